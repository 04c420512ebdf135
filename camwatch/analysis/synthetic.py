"""Deterministic camera-like frames for the analyzers' tests and benchmark.

A "world" is a colour image a little larger than the view, so a camera move is a
different crop of it. `render` turns a world into the (gray, rgb) pair a
decoder hands to the analyzers, with the faults and nuisances the analyzers
must tell apart: gain/offset light changes, an IR switch to gray, sensor noise,
defocus, moving blobs and an on-screen clock. Everything is seeded: the same
arguments always give the same pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..state import FrameSample

# BT.601 luma weights, what a decoder's gray conversion uses.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# An IR image: near-infrared reflectance differs from visible luma (foliage
# bright, blue things dark); modelled as another channel mix plus lift.
_IR = np.array([0.62, 0.30, 0.08], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Blob:
    """A moving object: a filled disc at normalized centre (x, y), radius r (of height)."""

    x: float
    y: float
    r: float
    value: tuple[float, float, float] = (230.0, 40.0, 40.0)


def make_world(
    seed: int = 0,
    width: int = 320,
    height: int = 180,
    *,
    margin: int = 48,
    busy: bool = False,
) -> np.ndarray:
    """A float32 (height+2m, width+2m, 3) scene in 0..255: sky, buildings, ground, detail."""
    rng = np.random.default_rng(seed)
    h, w = height + 2 * margin, width + 2 * margin
    yy = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    world = np.empty((h, w, 3), dtype=np.float32)
    sky = np.array([150.0, 175.0, 210.0], dtype=np.float32)
    ground = np.array([95.0, 110.0, 80.0], dtype=np.float32)
    blend = np.clip((yy - 0.35) * 6.0, 0.0, 1.0)[..., None]
    world[:] = sky * (1 - blend) + ground * blend
    world += _smooth_field(rng, h, w, 8, 25.0)[..., None]
    for _ in range(int(rng.integers(14, 20))):
        bw, bh = int(rng.integers(w // 20, w // 6)), int(rng.integers(h // 8, h // 2))
        x0, y0 = int(rng.integers(0, w - bw)), int(rng.integers(h // 6, h - bh))
        colour = rng.uniform(30.0, 220.0, 3).astype(np.float32)
        world[y0 : y0 + bh, x0 : x0 + bw] = colour
        _windows(world, rng, x0, y0, bw, bh, colour)
    for _ in range(10):
        _line(world, rng)
    detail = 14.0 if not busy else 60.0
    world += _smooth_field(rng, h, w, max(w // 3, 8), detail)[..., None]
    if busy:
        # Pixel-scale texture everywhere (foliage, gravel): reads as noise in one frame.
        world += _smooth_field(rng, h, w, w, 40.0)[..., None] * rng.uniform(0.6, 1.4, 3).astype(
            np.float32
        )
    np.clip(world, 0.0, 255.0, out=world)
    return world


def render(
    world: np.ndarray,
    *,
    width: int = 320,
    height: int = 180,
    shift: tuple[int, int] = (0, 0),
    gain: float = 1.0,
    offset: float = 0.0,
    noise: float = 0.0,
    blur: int = 0,
    blobs: Sequence[Blob] = (),
    clock: int | None = None,
    ir: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """One sampled keyframe: (gray uint8 HxW, rgb uint8 HxWx3)."""
    margin_y = (world.shape[0] - height) // 2
    margin_x = (world.shape[1] - width) // 2
    dx, dy = shift
    y0, x0 = margin_y + dy, margin_x + dx
    if not (0 <= y0 <= world.shape[0] - height and 0 <= x0 <= world.shape[1] - width):
        raise ValueError(f"shift {shift} exceeds the world's margin")
    view = world[y0 : y0 + height, x0 : x0 + width].copy()
    for blob in blobs:
        _disc(view, blob)
    if blur:
        view = box_blur(view, blur)
    if ir:
        mono = np.clip(view @ _IR * 1.1 + 12.0, 0.0, 255.0)
        view = np.repeat(mono[..., None], 3, axis=2)
    view = view * gain + offset
    if clock is not None:
        _clock(view, clock)
    if noise:
        rng = np.random.default_rng(seed)
        view += rng.normal(0.0, noise, view.shape[:2])[..., None].astype(np.float32)
    rgb = np.clip(view + 0.5, 0.0, 255.0).astype(np.uint8)
    gray = np.clip(view @ _LUMA + 0.5, 0.0, 255.0).astype(np.uint8)
    return gray, rgb


def box_blur(image: np.ndarray, radius: int) -> np.ndarray:
    """Separable (2r+1)^2 mean filter with edge replication: a defocused lens."""
    size = 2 * radius + 1
    out = image.astype(np.float32)
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius + 1, radius)
        c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis, dtype=np.float64)
        hi = np.take(c, np.arange(size, c.shape[axis]), axis=axis)
        lo = np.take(c, np.arange(0, c.shape[axis] - size), axis=axis)
        out = ((hi - lo) / size).astype(np.float32)
    return out


def _smooth_field(rng: np.random.Generator, h: int, w: int, cells: int, amp: float) -> np.ndarray:
    """Random values on a coarse grid, bilinearly upsampled: texture at a chosen scale."""
    gh = max(2, round(cells * h / w))
    coarse = rng.uniform(-amp, amp, (gh + 1, cells + 1)).astype(np.float32)
    ys = np.linspace(0, gh, h, dtype=np.float32)
    xs = np.linspace(0, cells, w, dtype=np.float32)
    y0 = np.minimum(ys.astype(int), gh - 1)
    x0 = np.minimum(xs.astype(int), cells - 1)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]
    a = coarse[y0][:, x0]
    b = coarse[y0][:, x0 + 1]
    c = coarse[y0 + 1][:, x0]
    d = coarse[y0 + 1][:, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def _windows(
    world: np.ndarray,
    rng: np.random.Generator,
    x0: int,
    y0: int,
    bw: int,
    bh: int,
    colour: np.ndarray,
) -> None:
    step = max(4, bw // 5)
    for wy in range(y0 + 3, y0 + bh - 4, step):
        for wx in range(x0 + 2, x0 + bw - 3, step):
            shade = colour * rng.uniform(0.3, 1.6)
            world[wy : wy + step // 2, wx : wx + step // 2] = np.clip(shade, 0, 255)


def _line(world: np.ndarray, rng: np.random.Generator) -> None:
    h, w = world.shape[:2]
    x0, x1 = rng.uniform(0, w, 2)
    y0, y1 = rng.uniform(0, h, 2)
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    xs = np.linspace(x0, x1, n).astype(int).clip(0, w - 1)
    ys = np.linspace(y0, y1, n).astype(int).clip(0, h - 1)
    world[ys, xs] = rng.uniform(0, 255, 3).astype(np.float32)


def _disc(view: np.ndarray, blob: Blob) -> None:
    h, w = view.shape[:2]
    cy, cx, r = blob.y * h, blob.x * w, blob.r * h
    ys = np.arange(h, dtype=np.float32)[:, None]
    xs = np.arange(w, dtype=np.float32)[None, :]
    inside = (ys - cy) ** 2 + (xs - cx) ** 2 <= r * r
    view[inside] = np.asarray(blob.value, dtype=np.float32)


# 3x5 bitmaps of the digits 0-9, row-major: enough to change a corner each second.
_DIGITS = (
    "111101101101111",
    "010110010010111",
    "111001111100111",
    "111001111001111",
    "101101111001001",
    "111100111001111",
    "111100111101111",
    "111001001001001",
    "111101111101111",
    "111101111001111",
)


def _clock(view: np.ndarray, t: int) -> None:
    """Burn an HH:MM:SS-like counter into the top-left corner (an OSD timestamp)."""
    scale = max(1, view.shape[0] // 60)
    text = f"{t % 1_000_000:06d}"
    y0, x0 = 2 * scale, 2 * scale
    view[y0 - scale : y0 + 6 * scale, x0 - scale : x0 + 4 * scale * len(text)] = 0.0
    for i, ch in enumerate(text):
        bits = np.array([int(b) for b in _DIGITS[int(ch)]], dtype=bool).reshape(5, 3)
        glyph = np.kron(bits, np.ones((scale, scale), dtype=bool))
        gx = x0 + i * 4 * scale
        region = view[y0 : y0 + 5 * scale, gx : gx + 3 * scale]
        region[glyph] = 255.0


class FakeCamera:
    """Successive FrameSamples of one world, `interval` seconds apart, fresh noise each.

    `sample(**kw)` takes render()'s keywords. `frozen=True` reuses the previous
    sample's noise, so the picture repeats exactly (a frozen source) except for
    what the keywords change, e.g. a clock burnt in after the freeze."""

    def __init__(
        self,
        seed: int = 0,
        *,
        width: int = 320,
        height: int = 180,
        busy: bool = False,
        noise: float = 1.5,
        interval: float = 2.0,
        name: str = "cam",
    ) -> None:
        self.world = make_world(seed, width, height, busy=busy)
        self.width, self.height = width, height
        self.noise = noise
        self.interval = interval
        self.name = name
        self.count = 0
        self._noise_seed = seed * 100_003

    def sample(self, *, frozen: bool = False, **kw: object) -> FrameSample:
        if not frozen:
            self._noise_seed += 1
        kw.setdefault("noise", self.noise)
        gray, rgb = render(
            self.world, width=self.width, height=self.height, seed=self._noise_seed,
            **kw,  # type: ignore[arg-type]
        )  # fmt: skip
        t = self.count * self.interval
        self.count += 1
        return FrameSample(self.name, 1_800_000_000.0 + t, t, gray, rgb)
