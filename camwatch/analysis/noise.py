"""Robust sensor-noise estimate: Immerkaer's operator, block-wise, low percentile.

Immerkaer's mask [1 -2 1]^T [1 -2 1] cancels straight edges and smooth shading,
and for white Gaussian noise of sigma s its mean absolute response is
s * 6 * sqrt(2/pi). Summed over the whole frame, texture still reads as noise;
taking a low percentile of per-cell estimates keeps only the quietest cells,
which in any real scene are the ones where noise is all there is. Cells that are
clipped or masked are skipped: clipping hides noise and would read zero.

A scene can be fine texture everywhere (foliage, gravel); then even the quietest
cells read texture. Texture stands still between samples and noise does not,
so the check also takes the same low percentile of per-cell differences between
consecutive samples (from the frozen detector) and trusts the lower of the two.
The temporal figure is the lower of the last two pairs: a camera move or a light
switch changes one pair, noise changes all of them.
"""

from __future__ import annotations

import math

import numpy as np

from ..state import Condition, Severity
from .conditions import condition
from .frame import Prepared, percentile

_SCALE = math.sqrt(math.pi / 2.0) / 6.0
PERCENTILE = 20.0
_MAX_CLIPPED = 0.1  # a cell with more clipped pixels than this says nothing about noise


def noise_sigma(prep: Prepared, cell_valid: np.ndarray) -> float | None:
    """Noise standard deviation in luma levels, or None when no cell is usable."""
    usable = cell_valid & (prep.cell_clipped <= _MAX_CLIPPED)
    sigmas = prep.immerkaer_cells[usable]
    if sigmas.size == 0:
        return None
    return percentile(sigmas, PERCENTILE) * _SCALE


def combined(spatial: float | None, temporal: float | None) -> float | None:
    """The lower of the two estimates: texture inflates only the spatial one, motion
    and light changes only the temporal one; noise raises both."""
    if spatial is None or temporal is None:
        return spatial
    return min(spatial, temporal)


def noise(spatial: float | None, temporal: float | None, threshold: float) -> Condition:
    if spatial is None:
        return condition(
            "noise", False, None, threshold, "no usable area to measure noise", Severity.OK
        )
    if temporal is None:
        return condition(
            "noise",
            False,
            spatial,
            threshold,
            f"noise sigma {spatial:.1f} in one sample: needs more samples to tell from texture",
            Severity.OK,
        )
    sigma = min(spatial, temporal)
    active = sigma > threshold
    op = ">" if active else "<="
    tail = ": noisy image" if active else ""
    return condition(
        "noise",
        active,
        sigma,
        threshold,
        f"noise sigma {sigma:.1f} {op} {threshold:g}{tail} "
        f"(spatial {spatial:.1f}, temporal {temporal:.1f})",
        Severity.WARNING,
    )
