"""Thresholds and tuning of the image analyzers, overridable per camera.

Percentages are 0-100 (what a config file and the UI show); luma is in 8-bit
levels of the sampled gray frame. `from_thresholds` takes the camera's
`thresholds` mapping from the config, rejecting unknown keys and bad values
with the key named, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    # Exposure (absolute, from the first frame)
    black_luma: float = 16.0  # mean luma under this...
    black_texture_pct: float = 10.0  # ...with at most this % of cells textured: black image
    low_light_luma: float = 30.0  # mean luma under this: low light (a healthy night must not)
    overexposed_pct: float = 30.0  # % of pixels clipped (>= 250) above this: overexposed
    low_contrast_range: float = 24.0  # luma levels between 2nd and 98th percentile under this
    color_cast_chroma: float = 40.0  # mean chroma offset (levels; vs baseline once learned)...
    color_cast_ratio: float = 0.75  # ...at least this times the chroma spread: a cast
    # Noise / snow
    # Robust noise sigma (levels) above this: noisy image (1.6x this in a texture-
    # dominated frame, see noise.py). Encoders smooth noise: sigma 12 at the sample
    # size reads ~8 after libx264 at 500 kbit/s, ~3 under a CBR VBV (the simulator's);
    # snow reads 8-20; healthy streams read 1-3.
    noise_sigma: float = 5.0
    # Covered lens / flat image
    covered_texture_pct: float = 10.0  # % of grid cells with texture under this...
    covered_layout: float = 1.0  # ...and cell means within this (levels) of a smooth surface
    covered_sharpness_pct: float = 15.0  # with a baseline: sharpness under this % of it and
    covered_match_pct: float = 60.0  # scene match under this (detail and layout gone): covered
    # Focus
    defocus_pct: float = 50.0  # sharpness under this % of the baseline: defocus/dirty lens
    # Frozen
    # Per-cell mean |difference| between samples (2x2-binned levels) at most which a cell
    # is still; tightened to 0.6x the camera's learned floor once known.
    frozen_mad: float = 0.3
    frozen_cells_pct: float = 85.0  # % of cells still between samples at or above this: frozen
    # Camera moved
    moved_match_pct: float = 60.0  # scene structure match with the reference under this: moved
    # Motion (a metric, not a fault)
    motion_threshold: float = 15.0  # luma change (2x2-binned levels) that counts as motion
    motion_cell_pct: float = 5.0  # % of a grid cell changed to mark it active
    motion_alpha: float = 0.1  # background running-average rate per sample
    light_change_pct: float = 80.0  # % of the frame changed at once: light change, re-baseline
    # Baseline learning
    baseline_samples: float = 30.0  # healthy samples learned before relative checks start
    baseline_alpha: float = 0.02  # slow refresh rate of the baseline while healthy

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            low, high = _RANGES[f.name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"analysis threshold {f.name!r}: expected a number, got {value!r}")
            if not math.isfinite(value) or not low <= value <= high:
                raise ValueError(
                    f"analysis threshold {f.name!r}: {value!r} is outside {low:g}..{high:g}"
                )

    @classmethod
    def from_thresholds(cls, thresholds: Mapping[str, float]) -> AnalysisSettings:
        """Defaults overridden by a camera's `thresholds` table; unknown keys are errors."""
        known = {f.name for f in fields(cls)}
        for key in thresholds:
            if key not in known:
                raise ValueError(f"unknown analysis threshold {key!r}")
        return replace(cls(), **dict(thresholds))

    @property
    def learn_samples(self) -> int:
        return round(self.baseline_samples)


_RANGES: dict[str, tuple[float, float]] = {
    "black_luma": (0.0, 255.0),
    "black_texture_pct": (0.0, 100.0),
    "low_light_luma": (0.0, 255.0),
    "overexposed_pct": (0.0, 100.0),
    "low_contrast_range": (0.0, 255.0),
    "color_cast_chroma": (0.0, 255.0),
    "color_cast_ratio": (0.0, 100.0),
    "noise_sigma": (0.0, 255.0),
    "covered_texture_pct": (0.0, 100.0),
    "covered_sharpness_pct": (0.0, 100.0),
    "covered_layout": (0.0, 255.0),
    "covered_match_pct": (0.0, 100.0),
    "defocus_pct": (0.0, 100.0),
    "frozen_mad": (0.0, 255.0),
    "frozen_cells_pct": (0.0, 100.0),
    "moved_match_pct": (0.0, 100.0),
    "motion_threshold": (0.0, 255.0),
    "motion_cell_pct": (0.0, 100.0),
    "motion_alpha": (0.0001, 1.0),
    "light_change_pct": (1.0, 100.0),
    "baseline_samples": (1.0, 10_000.0),
    "baseline_alpha": (0.0, 1.0),
}
