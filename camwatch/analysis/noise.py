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

Through an encoder, texture moves between samples too: at substream bitrates
each keyframe re-quantizes fine texture differently. Measured on the
simulator's streams (640x360, 500 kbit/s CBR, keyframes scaled to 320x180): a
busy scene (pixel-scale foliage everywhere, sensor sigma 2) reads spatial ~10
and temporal 5.2-6.6, the temporal figure 0.51-0.59 of the spatial one; snow
reads 8-20 with the two figures alike (temporal 0.66-2 x spatial); healthy
street, night, IR and static scenes read 0.6-3. So when the temporal figure is
under TEXTURE_RATIO of the spatial one, the frame is texture-dominated and its
temporal figure may be the encoder's doing: noise then needs TEXTURE_FACTOR x
the threshold. (The encoder also removes most sensor noise at such bitrates:
Gaussian sigma 16 reads 3-5 on an ordinary scene.)

Snow flickers with the encoder's quantizer from keyframe to keyframe, so a
noisy verdict holds for one more sample when the next reading falls back: a
noisy picture stays reported instead of flapping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..state import Condition, Severity
from .conditions import condition
from .frame import Prepared, percentile

_SCALE = math.sqrt(math.pi / 2.0) / 6.0
PERCENTILE = 20.0
TEXTURE_RATIO = 0.7  # temporal under this x spatial: a texture-dominated frame...
TEXTURE_FACTOR = 1.6  # ...needs this x the threshold to be called noisy
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


@dataclass(frozen=True, slots=True)
class Reading:
    """One sample's noise figure and the limit it is judged against."""

    sigma: float
    limit: float
    textured: bool  # texture-dominated: the stricter limit applies

    @property
    def noisy(self) -> bool:
        return self.sigma > self.limit


def reading(spatial: float | None, temporal: float | None, threshold: float) -> Reading | None:
    """This sample's noise figure once both estimates exist, else None."""
    if spatial is None or temporal is None:
        return None
    textured = temporal < TEXTURE_RATIO * spatial
    limit = threshold * TEXTURE_FACTOR if textured else threshold
    return Reading(min(spatial, temporal), limit, textured)


def noise(
    spatial: float | None,
    temporal: float | None,
    threshold: float,
    previous: Reading | None = None,
) -> Condition:
    """previous: the last sample's reading(), held one sample when it was noisy."""
    if spatial is None:
        return condition(
            "noise", False, None, threshold, "no usable area to measure noise", Severity.OK
        )
    now = reading(spatial, temporal, threshold)
    if now is None:
        return condition(
            "noise",
            False,
            spatial,
            threshold,
            f"noise sigma {spatial:.1f} in one sample: needs more samples to tell from texture",
            Severity.OK,
        )
    held = previous is not None and previous.noisy and not now.noisy
    r = previous if held and previous is not None else now
    op = ">" if r.noisy else "<="
    tail = ": noisy image" if r.noisy else ""
    note = ", texture-dominated: stricter limit" if r.textured else ""
    if held:
        note += ", held from the previous sample"
    return condition(
        "noise",
        r.noisy,
        r.sigma,
        r.limit,
        f"noise sigma {r.sigma:.1f} {op} {r.limit:g}{tail} "
        f"(spatial {spatial:.1f}, temporal {temporal:.1f}{note})",
        Severity.WARNING,
    )
