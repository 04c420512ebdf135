"""Synthetic, camera-like scenes rendered with numpy.

A scene is a static textured background (sky gradient, smoothed noise,
buildings with windows, a ground plane) seen through a view window, a few
objects crossing it, mild sensor noise that changes every frame and a
timestamp-like seven-segment block in the top-left corner that changes every
second. Motion is periodic in the loop length, so the encoded loop repeats
without a jump.

Styles make scenes that are hard on the image checks on purpose, while healthy:
- "street": the scene above (sensor noise sigma 2);
- "busy": fine static texture everywhere (foliage, gravel) that reads as noise
  in a single frame and costs the encoder its bits;
- "night": the street at night in colour: dark (mean luma ~40) but textured,
  with street lamps, lit windows and more sensor noise (sigma 3);
- "static": nothing moves, a clean sensor (sigma 1): only the noise and the
  clock change, yet the camera is live.

Exposure (not faults): a global gain and offset (light changes, auto exposure
steps, clouds), and IR night mode: gray, with near-infrared reflectance
(foliage bright), an illuminator hot spot in the centre and more noise. The
on-screen clock is burnt in after exposure, as cameras do.

Image faults are alternative *looks* of the same scene (black, covered lens,
defocus, camera moved, snow, low light, overexposure, frozen picture): each is
encoded as its own loop and switched in at a keyframe.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

LOOKS = (
    "normal",
    "frozen",
    "black",
    "covered",
    "defocus",
    "moved",
    "noise",
    "low_light",
    "overexposure",
)

STYLES = ("street", "busy", "night", "static")

_MARGIN = 0.15  # fraction of the view kept around it, so "moved" can pan into it
_NOISE_SIGMA = 2.0  # temporal sensor noise of a healthy camera (grey levels)
# Default sensor noise per style: a night sensor runs at high gain, a static
# indoor camera is clean.
STYLE_NOISE = {"street": _NOISE_SIGMA, "busy": _NOISE_SIGMA, "night": 3.0, "static": 1.0}
_IR_MIX = np.array([0.62, 0.30, 0.08], np.float32)  # near-IR reflectance from RGB
_IR_NOISE = 1.5  # an IR image runs at higher gain: this much more noise


@dataclass(frozen=True)
class SceneSpec:
    """What to render: size, rate, loop length, which scene and which look."""

    width: int
    height: int
    fps: float
    frames: int
    scene: int = 0
    overlay: bool = True
    look: str = "normal"
    look_params: tuple[tuple[str, float], ...] = field(default=())
    style: str = "street"
    noise: float = _NOISE_SIGMA  # sensor noise sigma (grey levels)
    gain: float = 1.0  # light: scene x gain + offset, before the clock
    offset: float = 0.0
    ir: bool = False  # IR night mode

    def param(self, name: str, default: float) -> float:
        return float(dict(self.look_params).get(name, default))


def render(spec: SceneSpec) -> Iterator[np.ndarray]:
    """Yield spec.frames RGB frames (height x width x 3, uint8)."""
    if spec.look not in LOOKS:
        raise ValueError(f"unknown look {spec.look!r}; known: {', '.join(LOOKS)}")
    if spec.style not in STYLES:
        raise ValueError(f"unknown style {spec.style!r}; known: {', '.join(STYLES)}")
    if spec.look == "frozen":
        if spec.param("clock", 0.0) and spec.overlay:
            # The picture froze but the camera still burns a ticking clock into it.
            still = _render_frame(replace(spec, overlay=False), 0, _noise_rng(spec))
            for index in range(spec.frames):
                frame = still.copy()
                _draw_clock(frame, index, spec.fps)
                yield frame
            return
        still = _render_frame(spec, 0, _noise_rng(spec))
        for _ in range(spec.frames):
            yield still
        return
    rng = _noise_rng(spec)
    for index in range(spec.frames):
        yield _render_frame(spec, index, rng)


def _noise_rng(spec: SceneSpec) -> np.random.Generator:
    return np.random.default_rng(1000 + spec.scene)


def _render_frame(spec: SceneSpec, index: int, rng: np.random.Generator) -> np.ndarray:
    look = spec.look
    if look == "black":
        return _flat(spec, (0, 0, 0), sigma=0.8, rng=rng)
    if look == "covered":
        return _flat(spec, (30, 28, 26), sigma=1.5, rng=rng)
    frame = _expose(_view(spec, index), spec)
    if spec.overlay:
        _draw_clock(frame, index, spec.fps)
    frame = _add_noise(frame, rng, spec.noise * (_IR_NOISE if spec.ir else 1.0))
    if look == "defocus":
        return _blur(frame, int(spec.param("strength", 8)))
    if look == "noise":
        return _snow(frame, spec.param("level", 0.85), rng)
    if look == "low_light":
        dark = (frame.astype(np.float32) * spec.param("gain", 0.12)).astype(np.uint8)
        return _add_noise(dark, rng, spec.param("sigma", 5.0))
    if look == "overexposure":
        gain = spec.param("gain", 2.2)
        return np.clip(frame.astype(np.float32) * gain + 90.0, 0, 255).astype(np.uint8)
    return frame


def _view(spec: SceneSpec, index: int) -> np.ndarray:
    """Crop the canvas at the camera's view window, objects drawn in canvas space."""
    # The IR illuminator lights the scene: at night in IR mode it looks as by day.
    style = "street" if spec.ir and spec.style == "night" else spec.style
    canvas = _canvas(spec.width, spec.height, spec.scene, style).copy()
    if style != "static":
        _draw_objects(canvas, spec, index, dim=0.35 if style == "night" else 1.0)
    mx, my = _margins(spec.width, spec.height)
    x0, y0 = mx, my
    if spec.look == "moved":
        x0 += round(spec.param("dx", 0.12) * spec.width)
        y0 += round(spec.param("dy", 0.08) * spec.height)
        x0 = min(max(x0, 0), 2 * mx)
        y0 = min(max(y0, 0), 2 * my)
    return np.ascontiguousarray(canvas[y0 : y0 + spec.height, x0 : x0 + spec.width])


def _margins(width: int, height: int) -> tuple[int, int]:
    return int(width * _MARGIN), int(height * _MARGIN)


def _expose(frame: np.ndarray, spec: SceneSpec) -> np.ndarray:
    """IR mode and the light's gain/offset; the frame itself when neither applies."""
    if not spec.ir and spec.gain == 1.0 and spec.offset == 0.0:
        return frame
    f = frame.astype(np.float32)
    if spec.ir:
        mono = (f @ _IR_MIX) * 1.1 + 12.0
        mono *= _hot_spot(frame.shape[0], frame.shape[1])
        f = np.repeat(mono[:, :, None], 3, axis=2)
    f = f * np.float32(spec.gain) + np.float32(spec.offset)
    return np.clip(f + 0.5, 0, 255).astype(np.uint8)


@lru_cache(maxsize=8)
def _hot_spot(h: int, w: int) -> np.ndarray:
    """An IR illuminator's beam: full in the centre, ~60% in the corners."""
    yy = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    xx = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    spot = 1.05 - 0.45 * (xx * xx + yy * yy) / 2.0
    spot.setflags(write=False)
    return spot


@lru_cache(maxsize=16)
def _canvas(width: int, height: int, scene: int, style: str) -> np.ndarray:
    """The static canvas of one scene in one style (read-only; callers copy it)."""
    base = _background(width, height, scene)
    if style in ("street", "static"):
        return base
    rng = np.random.default_rng(10_000 + scene)
    ch, cw = base.shape[:2]
    canvas = base.astype(np.float32)
    if style == "busy":
        # Foliage and gravel: blobs of a pixel or two, strong and everywhere.
        canvas += _smooth_noise(rng, ch, cw, cell=2)[:, :, None] * 45.0
        canvas += rng.normal(0.0, 16.0, size=(ch, cw, 1)).astype(np.float32)
        canvas *= rng.uniform(0.85, 1.1, size=3).astype(np.float32)
    else:  # night
        rows = np.linspace(0.0, 1.0, ch, dtype=np.float32)[:, None, None]
        canvas *= 0.07 + 0.1 * rows  # a dark sky above a dimly lit ground
        _draw_lights(canvas, rng)
    out = np.clip(canvas, 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


def _draw_lights(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Street lamps (warm pools of light) and lit windows on a night canvas."""
    ch, cw = canvas.shape[:2]
    ys = np.arange(ch, dtype=np.float32)[:, None]
    xs = np.arange(cw, dtype=np.float32)[None, :]
    warm = np.array([1.0, 0.85, 0.55], np.float32)
    for i in range(6):
        cx = cw * (i + rng.uniform(0.3, 0.7)) / 6
        cy = ch * rng.uniform(0.5, 0.7)
        r = ch * rng.uniform(0.12, 0.2)
        pool = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * r * r)) * 45.0
        canvas += pool[:, :, None] * warm
    win = max(3, ch // 60)
    for _ in range(70):
        x = int(rng.integers(0, cw - 2 * win))
        y = int(rng.integers(ch // 6, int(ch * 0.6)))
        shade = rng.uniform(120.0, 220.0) * (warm if rng.random() < 0.7 else 1.0)
        canvas[y : y + win, x : x + 2 * win] = shade


@lru_cache(maxsize=16)
def _background(width: int, height: int, scene: int) -> np.ndarray:
    """The static canvas of one scene (read-only; callers copy it)."""
    mx, my = _margins(width, height)
    cw, ch = width + 2 * mx, height + 2 * my
    rng = np.random.default_rng(scene)
    rows = np.linspace(0.0, 1.0, ch, dtype=np.float32)[:, None]
    hue = rng.uniform(0.7, 1.1, size=3).astype(np.float32)
    sky = (200.0 - 90.0 * rows)[:, :, None] * hue[None, None, :]
    canvas = np.broadcast_to(sky, (ch, cw, 3)).copy()
    canvas += _smooth_noise(rng, ch, cw, cell=max(8, cw // 24))[:, :, None] * 28.0
    horizon = int(ch * rng.uniform(0.55, 0.7))
    canvas[horizon:] = np.array([90, 96, 84], np.float32) * hue
    canvas[horizon:] += _smooth_noise(rng, ch - horizon, cw, cell=6)[:, :, None] * 22.0
    _draw_buildings(canvas, rng, horizon)
    _draw_road(canvas, horizon)
    canvas += rng.normal(0.0, 6.0, size=(ch, cw, 1)).astype(np.float32)  # fine texture
    out = np.clip(canvas, 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Value noise in about [-1, 1]: a coarse random grid, bilinearly upsampled."""
    gh, gw = h // cell + 2, w // cell + 2
    grid = rng.uniform(-1.0, 1.0, size=(gh, gw)).astype(np.float32)
    ys = np.arange(h, dtype=np.float32) / cell
    xs = np.arange(w, dtype=np.float32) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _draw_buildings(canvas: np.ndarray, rng: np.random.Generator, horizon: int) -> None:
    ch, cw = canvas.shape[:2]
    x = int(rng.integers(0, cw // 12))
    while x < cw:
        bw = int(rng.integers(cw // 14, cw // 6))
        bh = int(rng.integers(ch // 6, int(horizon * 0.85)))
        top = horizon - bh
        colour = rng.uniform(60, 200, size=3).astype(np.float32)
        canvas[top:horizon, x : x + bw] = colour
        win = max(3, bw // 10)
        lit = colour * 0.45 + 120.0
        for wy in range(top + win, horizon - win, 2 * win):
            for wx in range(x + win, x + bw - win, 2 * win):
                canvas[wy : wy + win, wx : wx + win] = lit if rng.random() < 0.6 else colour * 0.3
        x += bw + int(rng.integers(2, cw // 20))


def _draw_road(canvas: np.ndarray, horizon: int) -> None:
    ch, cw = canvas.shape[:2]
    top = horizon + (ch - horizon) // 3
    bottom = min(ch, top + max(8, (ch - horizon) // 3))
    canvas[top:bottom] = (70.0, 70.0, 74.0)
    mid = (top + bottom) // 2
    dash = max(6, cw // 30)
    for x in range(0, cw, 2 * dash):
        canvas[mid - 1 : mid + 2, x : x + dash] = 230.0


def _draw_objects(canvas: np.ndarray, spec: SceneSpec, index: int, dim: float = 1.0) -> None:
    """A few boxes crossing the canvas; each wraps exactly 1-2 times per loop."""
    ch, cw = canvas.shape[:2]
    rng = np.random.default_rng(500 + spec.scene)
    phase = index / max(1, spec.frames)
    for i in range(3):
        ow = int(cw * rng.uniform(0.05, 0.1))
        oh = int(ch * rng.uniform(0.06, 0.14))
        laps = 1 + i % 2
        direction = 1 if rng.random() < 0.5 else -1
        start = rng.uniform(0, 1)
        x = int(((start + direction * laps * phase) % 1.0) * (cw + ow)) - ow
        y = int(ch * rng.uniform(0.55, 0.85)) - oh
        colour = (rng.integers(20, 240, size=3) * dim).astype(np.uint8)
        xa, xb = max(0, x), min(cw, x + ow)
        if xb > xa:
            canvas[y : y + oh, xa:xb] = colour
            canvas[y : y + max(2, oh // 6), xa:xb] = colour // 2


# Seven-segment digits: segments a, b, c, d, e, f, g.
_SEGMENTS = {
    0: "abcdef",
    1: "bc",
    2: "abdeg",
    3: "abcdg",
    4: "bcfg",
    5: "acdfg",
    6: "acdefg",
    7: "abc",
    8: "abcdefg",
    9: "abcdfg",
}


def _draw_clock(frame: np.ndarray, index: int, fps: float) -> None:
    """A 'HH:MM:SS'-like block whose seconds change once per second of the loop."""
    h = frame.shape[0]
    size = max(6, h // 30)
    seconds = int(index / fps)
    digits = [0, 0, 0, 0, (seconds // 10) % 6, seconds % 10]
    pad = size // 2
    width = len(digits) * (size + pad) + 2 * pad
    frame[pad : pad + 2 * size + 2 * pad, pad : pad + width] = 16
    x = 2 * pad
    for digit in digits:
        _draw_digit(frame, 2 * pad, x, size, digit)
        x += size + pad


def _draw_digit(frame: np.ndarray, y: int, x: int, size: int, digit: int) -> None:
    t = max(1, size // 5)
    boxes = {
        "a": (y, x, t, size),
        "b": (y, x + size - t, size, t),
        "c": (y + size, x + size - t, size, t),
        "d": (y + 2 * size - t, x, t, size),
        "e": (y + size, x, size, t),
        "f": (y, x, size, t),
        "g": (y + size - t // 2, x, t, size),
    }
    for seg in _SEGMENTS[digit]:
        sy, sx, sh, sw = boxes[seg]
        frame[sy : sy + sh, sx : sx + sw] = 235


def _add_noise(frame: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Grey temporal noise taken from a cached bank at a random offset (cheap)."""
    h, w = frame.shape[:2]
    bank = _noise_bank(h, w)
    oy, ox = int(rng.integers(0, 32)), int(rng.integers(0, 32))
    noise = bank[oy : oy + h, ox : ox + w, None] * np.float32(sigma)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


@lru_cache(maxsize=8)
def _noise_bank(h: int, w: int) -> np.ndarray:
    bank = np.random.default_rng(7).standard_normal((h + 32, w + 32)).astype(np.float32)
    bank.setflags(write=False)
    return bank


def _flat(
    spec: SceneSpec, colour: tuple[int, int, int], sigma: float, rng: np.random.Generator
) -> np.ndarray:
    base = np.empty((spec.height, spec.width, 3), np.uint8)
    base[:] = colour
    return _add_noise(base, rng, sigma)


def _blur(frame: np.ndarray, strength: int) -> np.ndarray:
    """Defocus: area-downscale by `strength` and bicubic upscale (in libswscale)."""
    import av

    h, w = frame.shape[:2]
    k = max(2, strength)
    small = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
        width=max(2, w // k), height=max(2, h // k), interpolation="AREA"
    )
    return small.reformat(width=w, height=h, interpolation="BICUBIC").to_ndarray()


def _snow(frame: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    h, w = frame.shape[:2]
    snow = rng.integers(0, 256, size=(h, w, 1), dtype=np.uint8).astype(np.float32)
    level = min(max(level, 0.0), 1.0)
    return (snow * level + frame.astype(np.float32) * (1.0 - level)).astype(np.uint8)
