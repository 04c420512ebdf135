"""Camera moved: the scene's structure no longer lines up with the stored reference.

Compared on a coarse image (the binned frame halved until about 80 px wide):
- match: zero-mean normalized cross-correlation of gradient magnitudes (edges)
  between the current frame and the reference, the best over shifts of +-1
  coarse pixel so that vibration of a pole is not a move. Gradients ignore an
  offset and ZNCC ignores a gain, so light changes and IR switches keep it high;
  a shift of a few coarse pixels takes it well below half.
- shift: phase correlation of the two (Hann-windowed) images gives the
  displacement and a peak height that says how much of the scene still matches
  somewhere: ~0.1 for an unrelated view, > 0.5 for a shifted one.
Moved when the match is low, unless phase correlation finds the scene in place
(then something large stands in front of the camera, which is not a move).
Phase correlation only runs when the match is low; otherwise the best of the
nine local shifts is the shift estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..state import Condition, Severity
from .conditions import condition
from .frame import bin2

COARSE_MAX_WIDTH = 96
PEAK_MIN = 0.2  # phase-correlation peak that proves a (shifted or not) match


def coarse_image(binned: np.ndarray) -> tuple[np.ndarray, int]:
    """The coarse image and its scale factor to the full-resolution frame."""
    image, factor = binned, 2
    while image.shape[1] > COARSE_MAX_WIDTH and image.shape[0] >= 32:
        image, factor = bin2(image), factor * 2
    return image, factor


def gradient(image: np.ndarray) -> np.ndarray:
    """|d/dx| + |d/dy| by central differences, (h-2, w-2)."""
    gx = image[1:-1, 2:] - image[1:-1, :-2]
    gy = image[2:, 1:-1] - image[:-2, 1:-1]
    np.abs(gx, out=gx)
    np.abs(gy, out=gy)
    gx += gy
    return gx


def _normalized(x: np.ndarray) -> np.ndarray:
    v = x.ravel().astype(np.float32)
    v -= np.float32(v.sum() / v.size)
    norm = float(np.sqrt(v @ v))
    return v / norm if norm > 1e-6 else v


class Reference:
    """A reference coarse image with what comparing against it needs, precomputed."""

    def __init__(self, image: np.ndarray, factor: int) -> None:
        self.image = image
        self.factor = factor
        h, w = image.shape
        g = gradient(image)
        gh, gw = g.shape
        # Nine windows of the reference gradient, one per +-1 pixel shift.
        self.windows = np.stack([
            _normalized(g[1 + dy : gh - 1 + dy, 1 + dx : gw - 1 + dx])
            for dy in (-1, 0, 1) for dx in (-1, 0, 1)
        ])  # fmt: skip
        self.window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
        self.spectrum = np.conj(np.fft.rfft2((image - image.mean()) * self.window))


@dataclass(frozen=True, slots=True)
class MoveEvidence:
    match: float  # 0-100
    # (dx, dy): how far the scene moved in the image, full-resolution pixels
    # (a camera panned right sees the scene move left: dx < 0).
    shift: tuple[float, float]
    peak: float  # phase-correlation peak (1.0 when the local search sufficed)


def compare(image: np.ndarray, ref: Reference, threshold: float) -> MoveEvidence:
    """Match and shift; phase correlation (the costly part) only when the match is low."""
    g = gradient(image)
    cur = _normalized(g[1:-1, 1:-1])
    scores = ref.windows @ cur
    best = int(np.argmax(scores))
    match = max(float(scores[best]), 0.0) * 100.0
    if match >= threshold:
        # In place: the best of the +-1 pixel search is the shift estimate.
        dy, dx = divmod(best, 3)
        shift = (float((1 - dx) * ref.factor), float((1 - dy) * ref.factor))
        return MoveEvidence(match, shift, 1.0)
    cross = np.fft.rfft2((image - image.mean()) * ref.window) * ref.spectrum
    cross /= np.abs(cross) + 1e-9
    corr = np.fft.irfft2(cross, s=image.shape)
    iy, ix = np.unravel_index(int(np.argmax(corr)), corr.shape)
    h, w = image.shape
    sy = iy - h if iy > h // 2 else iy
    sx = ix - w if ix > w // 2 else ix
    return MoveEvidence(
        match, (float(sx * ref.factor), float(sy * ref.factor)), float(corr[iy, ix])
    )


def moved(
    ev: MoveEvidence | None, threshold: float, learning: str | None, factor: int
) -> Condition:
    if ev is None:
        return condition("moved", False, None, threshold, learning or "no reference", Severity.OK)
    dx, dy = ev.shift
    in_place = max(abs(dx), abs(dy)) <= factor
    low = ev.match < threshold
    head = f"scene match {ev.match:.0f}%"
    if not low:
        return condition(
            "moved", False, ev.match, threshold, f"{head} >= {threshold:g}%", Severity.OK
        )
    if ev.peak >= PEAK_MIN and in_place:
        return condition(
            "moved",
            False,
            ev.match,
            threshold,
            f"{head} < {threshold:g}% but the view is in place: scene occluded",
            Severity.OK,
        )
    if ev.peak >= PEAK_MIN:
        tail = f"view shifted by ({dx:+.0f}, {dy:+.0f}) px"
    else:
        tail = "view changed (no matching shift)"
    return condition(
        "moved", True, ev.match, threshold, f"{head} < {threshold:g}%: {tail}", Severity.CRITICAL
    )
