"""Motion: difference against a gain-compensated running-average background.

Works on the 2x2-binned frame. Before differencing, the background is mapped to
the current light by a robust linear fit of cell means (current ~ gain x
background + offset; the prediction clipped to 0..255 like the sensor), so a
cloud or an auto-exposure step shifts the fit instead of every pixel. When even
then most of the frame changed at once, it is a light change, not motion: the
background is reset to the current frame and the level reported as 0 (the
detector recalibrates instead of alarming). The caller also asks for a reset
when the camera switches between colour and mono (IR night mode), which
changes the tones non-linearly. The level is the % of watched pixels that changed; the grid marks
cells where at least `motion_cell_pct` of their watched pixels changed.
Zones restrict where motion counts; motion masks and privacy masks never count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frame import GRID_COLS, GRID_ROWS, Layout, Prepared, fit_gain, scratch

_NOISE_FACTOR = 2.0  # pixel threshold >= this x full-res sigma (= 4x the binned noise)
_FIT_CLIPPED = 0.02  # cells with more clipped pixels bend the light fit: left out of it


@dataclass(frozen=True, slots=True)
class Motion:
    level: float  # 0-100: % of watched pixels changed
    grid: np.ndarray  # bool (9, 16)
    zones: tuple[float, ...]  # % changed per zone
    gain: float
    offset: float
    light_change: bool


class MotionDetector:
    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._bg: np.ndarray | None = None
        self._zero_grid = np.zeros((GRID_ROWS, GRID_COLS), dtype=bool)

    def update(
        self,
        prep: Prepared,
        sigma: float,
        threshold: float,
        cell_pct: float,
        alpha: float,
        light_pct: float,
        recalibrate: bool = False,
    ) -> Motion:
        """recalibrate: the caller saw a light switch (e.g. colour to IR): reset, report none."""
        cur = prep.binned
        layout = self._layout
        if self._bg is None:
            self._bg = cur.copy()
            return self._quiet(1.0, 0.0, False)
        if recalibrate:
            np.copyto(self._bg, cur)
            return self._quiet(1.0, 0.0, True)
        bg_cells = layout.cells_b(self._bg) / np.maximum(layout.cell_count_b, 1.0)
        fit_cells = (layout.cell_count_b > 0) & (prep.cell_clipped < _FIT_CLIPPED)
        gain, offset = fit_gain(bg_cells, prep.cell_mean, fit_cells)
        work = scratch(layout.height, layout.width)
        pred, diff = work.tmp1, work.tmp2
        np.multiply(self._bg, gain, out=pred)
        pred += offset
        np.clip(pred, 0.0, 255.0, out=pred)  # brighter light clips: so does the camera
        np.subtract(cur, pred, out=diff)
        np.abs(diff, out=diff)
        changed = diff > max(threshold, _NOISE_FACTOR * sigma)
        if layout.valid_b_mask is not None:
            changed &= layout.valid_b_mask  # masked pixels are 0, not "changed" by the offset
        weight = changed.astype(np.float32)
        if layout.motion_b is not None:
            weight *= layout.motion_b
        frame_changed = np.count_nonzero(changed) / max(layout.valid_total_b, 1.0)
        if 100.0 * frame_changed > light_pct:
            np.copyto(self._bg, cur)
            return self._quiet(gain, offset, True)
        # Blend toward the current frame in the current light.
        np.multiply(pred, 1.0 - alpha, out=self._bg)
        np.multiply(cur, alpha, out=diff)
        self._bg += diff
        cells = layout.cells_b(weight)
        watched = layout.motion_cells
        grid = (cells * 100.0 >= cell_pct * watched) & (watched > 0)
        level = 100.0 * float(cells.sum()) / layout.motion_total if layout.motion_total else 0.0
        zones = tuple(_zone_pct(changed, z) for z in layout.zones_b)
        return Motion(min(level, 100.0), grid, zones, gain, offset, False)

    def _quiet(self, gain: float, offset: float, light: bool) -> Motion:
        zones = tuple(0.0 for _ in self._layout.zones_b)
        return Motion(0.0, self._zero_grid.copy(), zones, gain, offset, light)


def _zone_pct(changed: np.ndarray, zone: np.ndarray) -> float:
    total = float(zone.sum())
    return 100.0 * float((changed * zone).sum()) / total if total else 0.0
