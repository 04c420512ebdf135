"""Exposure checks from the luma histogram, and colour cast from the RGB frame.

All absolute: they work on the first frame. The histogram is taken on every
other pixel each way (a quarter of the pixels gives the same percentiles to
within a level) with privacy-masked pixels removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..state import Condition, Severity
from .conditions import condition
from .settings import AnalysisSettings

_LEVELS = np.arange(256, dtype=np.float64)
_CLIP = 250
_MAX_RGB_PIXELS = 1024  # colour statistics need few pixels: subsample to about this


@dataclass(frozen=True, slots=True)
class Exposure:
    mean: float
    std: float
    p1: float
    p2: float
    p98: float
    p99: float
    clipped: float  # fraction of pixels >= 250
    entropy: float  # bits, 0..8

    @property
    def contrast(self) -> float:
        """Robust luma range: 2nd to 98th percentile."""
        return self.p98 - self.p2


def exposure_stats(hist: np.ndarray) -> Exposure:
    n = float(hist.sum())
    if n <= 0:
        return Exposure(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    h = hist.astype(np.float64)
    mean = float(h @ _LEVELS) / n
    var = max(float(h @ (_LEVELS * _LEVELS)) / n - mean * mean, 0.0)
    cdf = np.cumsum(h)
    p1, p2, p98, p99 = np.searchsorted(cdf, np.array([0.01, 0.02, 0.98, 0.99]) * n)
    p = h[h > 0] / n
    entropy = max(0.0, float(-(p @ np.log2(p))))
    clipped = float(h[_CLIP:].sum()) / n
    return Exposure(mean, var**0.5, float(p1), float(p2), float(p98), float(p99), clipped, entropy)


def black(e: Exposure, textured: float, s: AnalysisSettings) -> Condition:
    """Black: dark and without structure (a dark scene keeps texture; an OSD clock on a
    lost signal does not make it a scene)."""
    dark = e.mean < s.black_luma
    active = dark and textured <= s.black_texture_pct
    if active:
        reason = f"mean luma {e.mean:.0f} < {s.black_luma:g}: image black"
    elif dark:
        reason = (
            f"mean luma {e.mean:.0f} < {s.black_luma:g} but {textured:.0f}% textured: dark scene"
        )
    else:
        reason = f"mean luma {e.mean:.0f} >= {s.black_luma:g}"
    return condition("black", active, e.mean, s.black_luma, reason, Severity.CRITICAL)


def low_light(e: Exposure, s: AnalysisSettings) -> Condition:
    active = e.mean < s.low_light_luma
    op = "<" if active else ">="
    tail = ": low light" if active else ""
    return condition(
        "low_light", active, e.mean, s.low_light_luma,
        f"mean luma {e.mean:.0f} {op} {s.low_light_luma:g}{tail}", Severity.WARNING,
    )  # fmt: skip


def overexposed(e: Exposure, s: AnalysisSettings) -> Condition:
    pct = 100.0 * e.clipped
    active = pct > s.overexposed_pct
    op = ">" if active else "<="
    tail = ": overexposed" if active else ""
    return condition(
        "overexposed", active, pct, s.overexposed_pct,
        f"{pct:.0f}% of pixels clipped {op} {s.overexposed_pct:g}%{tail}", Severity.WARNING,
    )  # fmt: skip


def low_contrast(e: Exposure, s: AnalysisSettings) -> Condition:
    c = e.contrast
    active = c < s.low_contrast_range
    op = "<" if active else ">="
    tail = ": low contrast" if active else ""
    return condition(
        "low_contrast", active, c, s.low_contrast_range,
        f"luma range {c:.0f} {op} {s.low_contrast_range:g}{tail}", Severity.WARNING,
    )  # fmt: skip


_MID_GRAY = 128.0
_MIN_LUMA = 16.0
MONO_SPREAD = 3.0  # chroma spread (levels) under which a frame has no colour (IR mode)
# Under this mean luma the light is artificial (sodium or LED lamps colour a night
# street) and chroma is amplified noise: a cast is judged against the camera's own
# baseline only, never against neutral.
NEUTRAL_MIN_LUMA = 64.0


@dataclass(frozen=True, slots=True)
class Cast:
    chroma: tuple[float, float]  # mean opponent chroma (red-green, yellow-blue)
    spread: float  # chroma standard deviation
    # Both in levels as if the scene's mean luma were mid-gray (128).
    luma: float = _MID_GRAY  # mean luma of the pixels measured

    @property
    def mono(self) -> bool:
        return self.spread < MONO_SPREAD and float(np.hypot(*self.chroma)) < MONO_SPREAD


def color_stats(rgb: np.ndarray, keep: np.ndarray | None) -> Cast | None:
    """Mean and spread of opponent chroma (gray-world): None if no usable colour pixels.

    keep: nonzero where pixels are visible (privacy masks), or None for all."""
    step = max(1, int((rgb.shape[0] * rgb.shape[1] / _MAX_RGB_PIXELS) ** 0.5 + 0.5))
    px = rgb[::step, ::step]
    if keep is not None:
        px = px[keep[::step, ::step] > 0]
    px = px.reshape(-1, 3).astype(np.float32)
    n = len(px)
    if n < 16:
        return None
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    sr, sg, sb = float(r.sum()), float(g.sum()), float(b.sum())
    rg = r - g
    yb = r + g
    yb *= 0.5
    yb -= b
    m_rg, m_yb = (sr - sg) / n, (0.5 * (sr + sg) - sb) / n
    var = float(rg @ rg) / n - m_rg * m_rg + float(yb @ yb) / n - m_yb * m_yb
    # Chroma scales with light: express it at mid-gray so a dimmer scene is not a cast.
    luma = (0.299 * sr + 0.587 * sg + 0.114 * sb) / n
    k = _MID_GRAY / max(luma, _MIN_LUMA)
    return Cast((m_rg * k, m_yb * k), max(var, 0.0) ** 0.5 * k, luma)


def _hue(chroma: tuple[float, float]) -> str:
    rg, yb = chroma
    if abs(rg) >= abs(yb):
        return "red" if rg > 0 else "green"
    return "yellow" if yb > 0 else "blue"


def color_cast(
    cast: Cast | None, s: AnalysisSettings, reference: tuple[float, float] | None
) -> Condition:
    """Gray-world cast: the mean chroma far from neutral (or, once learned, from the
    camera's usual chroma: a lawn is green) and large against the chroma spread
    (a colourful scene spreads its chroma; a cast shifts all of it)."""
    thr = s.color_cast_chroma
    if cast is None:
        return condition("color_cast", False, None, thr, "no colour frame", Severity.OK)
    if cast.mono:
        return condition("color_cast", False, 0.0, thr, "mono image (IR mode)", Severity.OK)
    if reference is None and cast.luma < NEUTRAL_MIN_LUMA:
        return condition(
            "color_cast", False, None, thr,
            f"mean luma {cast.luma:.0f} < {NEUTRAL_MIN_LUMA:g}: artificial light, "
            "colour judged against the baseline once learned", Severity.OK,
        )  # fmt: skip
    ref = reference or (0.0, 0.0)
    shift = (cast.chroma[0] - ref[0], cast.chroma[1] - ref[1])
    offset = float(np.hypot(*shift))
    basis = "baseline" if reference is not None else "neutral"
    strong = offset > thr
    concentrated = offset >= s.color_cast_ratio * cast.spread
    if strong and concentrated:
        reason = f"chroma {offset:.0f} from {basis} > {thr:g}: {_hue(shift)} cast"
    elif strong:
        reason = (
            f"chroma {offset:.0f} from {basis} > {thr:g} but spread {cast.spread:.0f}: colourful"
        )
    else:
        reason = f"chroma {offset:.0f} from {basis} <= {thr:g}"
    return condition("color_cast", strong and concentrated, offset, thr, reason, Severity.WARNING)
