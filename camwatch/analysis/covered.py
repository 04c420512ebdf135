"""Covered lens or flat image: few grid cells keep any texture above the noise.

A hand, tape, paint or a lens cap leaves a frame that is flat at the scale of a
grid cell, whatever its brightness; a dark night scene still has texture well
above its noise. Texture is the standard deviation inside each cell of the
2x2-binned frame (binning halves white noise), counted only where it clears
both an absolute floor and 2.5x the binned noise. A cover that lets light and
blurred shapes through (spray, a hand at a distance) keeps coarse variations;
against a baseline it shows as detail gone (sharpness collapsed) together with
the scene's layout gone (structure match low), where a defocus keeps the
layout and a move keeps the detail. Texture alone is not compared with the
baseline: a dark night scene loses texture to noise yet is not covered.
"""

from __future__ import annotations

import numpy as np

from ..state import Condition, Severity
from .conditions import condition
from .frame import Layout, Prepared
from .settings import AnalysisSettings

_MIN_STD = 1.5  # levels, binned: below this a cell is flat whatever the noise
_NOISE_FACTOR = 1.25  # x full-res sigma = 2.5x the binned noise


def textured_pct(prep: Prepared, sigma: float | None, cell_valid: np.ndarray) -> float:
    """% of usable grid cells with texture above the noise."""
    floor = max(_MIN_STD, _NOISE_FACTOR * (sigma or 0.0))
    stds = prep.cell_std[cell_valid]
    if stds.size == 0:
        return 0.0
    return 100.0 * int(np.count_nonzero(stds > floor)) / stds.size


def layout_variation(prep: Prepared, layout: Layout) -> float:
    """Std of the cell means around the best smooth (quadratic) surface, levels.

    A cover leaves at most a smooth light leak (~0.1 levels here); a dim or foggy
    scene keeps its layout of bright and dark areas (> 1 level) even when its
    texture drowns in noise or the encoder."""
    means = prep.cell_mean[layout.cells_ok].astype(np.float64)
    if means.size == 0:
        return 0.0
    resid = layout.surface @ means
    return float(np.sqrt(resid @ resid / means.size))


def covered(
    textured: float,
    variation: float,
    s: AnalysisSettings,
    baseline_textured: float | None,
    sharpness_pct: float | None,
    match: float | None,
    exposed: bool,
) -> Condition:
    """Flat (few textured cells), or with a baseline: detail and layout both gone.

    sharpness_pct is this sample's (unsmoothed: a cover is sudden). exposed: False
    when the image is too dark or too flat in range for detail to survive the
    encoder, which then erases it like a cover would (low light explains that)."""
    flat_thr = s.covered_texture_pct
    if baseline_textured is not None:
        # A camera that watches a blank wall is not covered: judge against its own normal.
        flat_thr = min(flat_thr, 0.5 * baseline_textured)
    if textured < flat_thr and variation < s.covered_layout:
        return condition(
            "covered",
            True,
            textured,
            flat_thr,
            f"{textured:.0f}% of cells textured < {flat_thr:.0f}%: lens covered or image flat",
            Severity.CRITICAL,
        )
    if (
        exposed
        and sharpness_pct is not None
        and match is not None
        and sharpness_pct < s.covered_sharpness_pct
        and match < s.covered_match_pct
    ):
        return condition(
            "covered",
            True,
            sharpness_pct,
            s.covered_sharpness_pct,
            f"sharpness {sharpness_pct:.0f}% of baseline < "
            f"{s.covered_sharpness_pct:g}% and scene match {match:.0f}% < "
            f"{s.covered_match_pct:g}%: "
            "lens covered or sprayed",
            Severity.CRITICAL,
        )
    if textured < flat_thr:
        return condition(
            "covered",
            False,
            textured,
            flat_thr,
            f"{textured:.0f}% of cells textured < {flat_thr:.0f}% but the layout "
            f"varies {variation:.1f} levels: a dim or low-contrast scene",
            Severity.OK,
        )
    return condition(
        "covered",
        False,
        textured,
        flat_thr,
        f"{textured:.0f}% of cells textured >= {flat_thr:.0f}%",
        Severity.OK,
    )
