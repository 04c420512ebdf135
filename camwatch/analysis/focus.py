"""Sharpness: noise-corrected Laplacian energy over image variance, vs the baseline.

The Laplacian's energy is the most sensitive focus measure but carries a noise
floor (its kernel's squared weights sum to 20, so white noise adds 20 sigma^2)
and scales with gain; subtracting the floor and dividing by the image variance
leaves a figure that blur lowers and light changes don't. It is taken as the
75th percentile of per-cell energies, not the frame mean: an on-screen clock is
burnt in after the lens, stays sharp when the lens is not, and would otherwise
dominate the mean. The score means little alone (it depends on the scene), so
the check compares it with the camera's own baseline.
"""

from __future__ import annotations

import numpy as np

from ..state import Condition, Severity
from .conditions import condition
from .frame import Prepared, percentile

_NOISE_GAIN = 20.0  # sum of the squared Laplacian weights
_PERCENTILE = 75.0
_MIN_VARIANCE = 4.0  # a flatter image has no focus to measure


def sharpness(
    prep: Prepared, sigma: float, variance: float, cell_valid: np.ndarray
) -> float | None:
    """Sharpness score (scene-dependent, ~10-300), or None for a flat image."""
    signal_var = variance - sigma * sigma
    if signal_var < _MIN_VARIANCE:
        return None
    energy = prep.lap_cells[cell_valid]
    if energy.size == 0:
        return None
    top = percentile(energy, _PERCENTILE) - _NOISE_GAIN * sigma * sigma
    return 100.0 * max(top, 0.0) / signal_var


def defocus(pct: float | None, threshold: float, learning: str | None) -> Condition:
    """pct: smoothed sharpness as % of baseline; learning: why there is no baseline yet."""
    if learning is not None:
        return condition("defocus", False, None, threshold, learning, Severity.OK)
    if pct is None:
        return condition(
            "defocus", False, None, threshold, "image too flat to judge focus", Severity.OK
        )
    active = pct < threshold
    op = "<" if active else ">="
    tail = ": defocused or dirty lens" if active else ""
    return condition(
        "defocus",
        active,
        pct,
        threshold,
        f"sharpness {pct:.0f}% of baseline {op} {threshold:g}%{tail}",
        Severity.WARNING,
    )
