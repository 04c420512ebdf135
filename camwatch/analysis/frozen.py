"""Frozen image: consecutive samples identical, within the noise, in most grid cells.

Samples are keyframes 1-2 s apart. A live camera looking at a still scene
still differs between them by sensor noise, while a frozen source re-encoded
by the camera converges toward 0. Measured with libx264 at 500 kbit/s on the
2x2-binned 320x180 samples: live scenes 0.33/0.49/0.8 levels per cell at
sensor sigma 0.5/1/2; a frozen one 0.36, 0.27, 0.23, ... down to 0 over some
15 keyframes (at once under CRF). The test is
per grid cell so that an on-screen clock, burnt in after the freeze, cannot
defeat it: frozen when at least `frozen_cells_pct` of the usable cells are
still. "Still" is `frozen_mad` at most, tightened to 0.6x the camera's learned
noise floor (the difference of its quietest cells between live samples) once
known, so a very clean camera is not called frozen by the absolute limit. The
cap keeps a floor learned in a noisy night from calling a clean day frozen.

A pair must be close in time to prove anything: across a gap (an outage, a
run of keyframes lost to packet loss) the previous sample is stale, so a
sample more than GAP_FACTOR x the shortest recent interval, or more than
STEP_FACTOR x the interval just before, after the previous one restarts the
comparison instead (and counts as the first sample of the next pair). The
second test catches one missed sample when a healthy camera is sampled every
other keyframe (the shortest recent interval may then be the long one); it
costs one restart when the schedule itself slows down. A simulator that
repeats an encoded loop exactly shows why: two keyframes a whole loop apart
are the same bytes.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..state import Condition, Severity
from .conditions import condition
from .frame import CLIP_HIGH, CLIP_LOW, Layout, Prepared, fit_gain, percentile, scratch

_FLOOR_PERCENTILE = 25.0
_FLOOR_FRACTION = 0.6  # still = under this fraction of the learned floor...
_MIN_STILL = 0.02  # ...but never stricter than this (exact repeats must count)
_FLOOR_ALPHA = 0.1
_FLOOR_SAMPLES = 3  # pairs seen before the learned floor is trusted
_NOISE_PERCENTILE = 20.0
GAP_FACTOR = 2.5  # a pair further apart than this x the shortest recent interval: stale
STEP_FACTOR = 1.6  # ...or than this x the interval just before
_INTERVALS = 8  # recent sample intervals remembered
_FIT_CLIPPED = 0.02  # cells with more clipped pixels bend the light fit: left out of it
# Mean |difference| of two 2x2-binned samples per unit of full-resolution white noise
# sigma: sigma/2 per binned pixel, x sqrt(2) for the difference, x sqrt(2/pi).
_MAD_PER_SIGMA = 0.5 * 2.0**0.5 * (2.0 / np.pi) ** 0.5


class FrozenDetector:
    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._prev = np.empty((layout.bh, layout.bw), np.float32)
        self._prev_cells: np.ndarray | None = None
        self._prev_clipped = np.zeros_like(layout.cell_count_b)
        self._prev_pts: float | None = None
        self.floor: float | None = None
        self._floor_n = 0
        self.streak = 0  # consecutive frozen pairs
        # Noise seen over time, from the quietest cells: still texture does not count.
        self.temporal_sigma: float | None = None
        self._last: Condition | None = None
        self._intervals: deque[float] = deque(maxlen=_INTERVALS)

    def adopt_floor(self, floor: float) -> None:
        """Trust a floor learned before (a stored baseline's)."""
        self.floor = floor
        self._floor_n = max(self._floor_n, _FLOOR_SAMPLES)

    def still_threshold(self, limit: float) -> float:
        if self.floor is None or self._floor_n < _FLOOR_SAMPLES:
            return limit
        return min(limit, max(_MIN_STILL, _FLOOR_FRACTION * self.floor))

    def update(
        self, prep: Prepared, pts: float, cell_valid: np.ndarray, mad_limit: float, cells_pct: float
    ) -> Condition:
        """Judge this sample against the previous one; also sets `temporal_sigma`."""
        if self._prev_pts is not None and pts == self._prev_pts and self._last is not None:
            return self._last  # the same picture delivered twice proves nothing
        self.temporal_sigma = None
        if self._prev_pts is not None and self._stale(pts - self._prev_pts):
            self._prev_cells = None
            self.streak = 0
        layout = self._layout
        cells = prep.cell_mean
        usable = cell_valid & (cells > CLIP_LOW) & (cells < CLIP_HIGH)
        if self._prev_cells is not None:
            usable &= (self._prev_cells > CLIP_LOW) & (self._prev_cells < CLIP_HIGH)
            # Differences after mapping the previous sample to the current light, so an
            # exposure step is neither "unfrozen" nor noise.
            unclipped = (prep.cell_clipped < _FIT_CLIPPED) & (self._prev_clipped < _FIT_CLIPPED)
            gain, offset = fit_gain(self._prev_cells, cells, usable & unclipped)
            diff = scratch(layout.height, layout.width).tmp1
            np.multiply(self._prev, gain, out=diff)
            diff += offset
            np.clip(diff, 0.0, 255.0, out=diff)
            np.subtract(prep.binned, diff, out=diff)
            np.abs(diff, out=diff)
            mad = (layout.cells_b(diff) / np.maximum(layout.cell_count_b, 1.0))[usable]
            result = self._judge(mad, mad_limit, cells_pct)
            if mad.size and not result.active:
                self.temporal_sigma = percentile(mad, _NOISE_PERCENTILE) / _MAD_PER_SIGMA
        else:
            result = condition(
                "frozen", False, None, cells_pct, "first sample (or first after a gap)", Severity.OK
            )
        np.copyto(self._prev, prep.binned)
        self._prev_cells = cells
        self._prev_clipped = prep.cell_clipped
        self._prev_pts = pts
        self._last = result
        return result

    def _stale(self, gap: float) -> bool:
        """True when the previous sample is too old (or out of order) to pair with."""
        if gap <= 0:
            self._intervals.clear()  # the clock restarted: a new stream
            return True
        if not self._intervals:
            self._intervals.append(gap)
            return False
        shortest, previous = min(self._intervals), self._intervals[-1]
        self._intervals.append(gap)
        return gap > GAP_FACTOR * shortest or gap > STEP_FACTOR * previous

    def _judge(self, mad: np.ndarray, mad_limit: float, cells_pct: float) -> Condition:
        if mad.size == 0:
            self.streak = 0
            return condition("frozen", False, None, cells_pct, "no usable cells", Severity.OK)
        limit = self.still_threshold(mad_limit)
        still = 100.0 * np.count_nonzero(mad <= limit) / mad.size
        active = still >= cells_pct
        if active:
            self.streak += 1
            reason = (
                f"{still:.0f}% of cells unchanged (<= {limit:.2f}) >= {cells_pct:g}%: "
                f"image frozen for {self.streak + 1} samples"
            )
        else:
            self.streak = 0
            self._learn(mad)
            reason = f"{still:.0f}% of cells unchanged (<= {limit:.2f}) < {cells_pct:g}%"
        return condition("frozen", active, still, cells_pct, reason, Severity.CRITICAL)

    def _learn(self, mad: np.ndarray) -> None:
        quiet = percentile(mad, _FLOOR_PERCENTILE)
        self._floor_n += 1
        self.floor = (
            quiet if self.floor is None else self.floor + _FLOOR_ALPHA * (quiet - self.floor)
        )
