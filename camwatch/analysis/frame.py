"""Per-frame preprocessing shared by all analyzers, and the masks it needs.

A `Layout` holds everything that depends only on the frame size and the
camera's regions (masks at each resolution, grid matrices, work buffers); it
is built once per camera and size. `prepare` does the per-frame work every
analyzer reuses, once: privacy masking, a histogram, a float copy, a 2x2-binned
image, per-cell statistics and the two second-derivative maps (Laplacian for
focus, Immerkaer's operator for noise).

Block sums use small 0/1 matrices (A @ x @ B): on this machine that is 4x
faster than numpy's multi-axis reductions of a reshaped array.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .regions import HasPoints, rasterize

GRID_ROWS = 9
GRID_COLS = 16
MIN_WIDTH = 64
MIN_HEIGHT = 36
CLIP_HIGH = 250  # a pixel at or above is clipped white
CLIP_LOW = 3  # a binned value at or below is crushed black


class CellSums:
    """Sums of an (h, w) array over a rows x cols grid of near-equal cells."""

    __slots__ = ("counts", "left", "right")

    def __init__(self, height: int, width: int, rows: int = GRID_ROWS, cols: int = GRID_COLS):
        self.left = _assign(height, rows).T.copy()  # (rows, h)
        self.right = _assign(width, cols)  # (w, cols)
        self.counts = self.left.sum(axis=1)[:, None] * self.right.sum(axis=0)[None, :]

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return self.left @ values @ self.right


@functools.lru_cache(maxsize=16)
def cell_sums(height: int, width: int) -> CellSums:
    """Shared per size (read-only after construction)."""
    return CellSums(height, width)


def percentile(values: np.ndarray, pct: float) -> float:
    """The pct-th percentile (nearest rank) of a non-empty 1-D array, by partition."""
    k = round((values.size - 1) * pct / 100.0)
    return float(np.partition(values, k)[k])


@functools.lru_cache(maxsize=16)
def _surface_projector(key: bytes, shape: tuple[int, int]) -> np.ndarray:
    """(n, n) matrix taking the n selected cell means (key: the bool cell mask's bytes)
    to their residual from the best quadratic surface: what is left once a smooth
    light gradient is removed. Cached: cameras without masks share one."""
    cells = np.frombuffer(key, dtype=bool).reshape(shape)
    yy, xx = np.mgrid[0 : cells.shape[0], 0 : cells.shape[1]].astype(np.float64)
    yy = (yy - yy.mean()) / max(yy.max(), 1.0)
    xx = (xx - xx.mean()) / max(xx.max(), 1.0)
    basis = np.stack([np.ones_like(xx), xx, yy, xx * xx, yy * yy, xx * yy], -1)[cells]
    if len(basis) <= basis.shape[1]:
        return np.zeros((len(basis), len(basis)))
    return np.eye(len(basis)) - basis @ np.linalg.pinv(basis)


def _assign(n: int, parts: int) -> np.ndarray:
    """(n, parts) 0/1 float32: index i belongs to part i*parts//n."""
    out = np.zeros((n, parts), dtype=np.float32)
    out[np.arange(n), np.arange(n) * parts // n] = 1.0
    return out


def bin2(image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """2x2 mean (odd last row/column dropped) as float32."""
    h, w = image.shape[0] // 2, image.shape[1] // 2
    rows = image[: 2 * h].reshape(h, 2, image.shape[1])
    pairs = np.add(rows[:, 0, : 2 * w], rows[:, 1, : 2 * w], dtype=np.float32)
    quads = pairs.reshape(h, w, 2)
    out = np.add(quads[:, :, 0], quads[:, :, 1], out=out)
    out *= 0.25
    return out


@dataclass(frozen=True, slots=True)
class Masks:
    """Boolean full-resolution masks; None means "nothing masked / everything counts"."""

    privacy: np.ndarray | None
    motion: np.ndarray | None  # pixels where motion counts (zones minus motion masks)
    zones: tuple[np.ndarray, ...]


def build_masks(
    height: int,
    width: int,
    privacy: Sequence[HasPoints],
    zones: Sequence[HasPoints],
    motion_masks: Sequence[HasPoints],
) -> Masks:
    priv = rasterize(privacy, height, width) if privacy else None
    zone_masks = tuple(rasterize((z,), height, width) for z in zones)
    motion = None
    if zones or motion_masks:
        motion = np.logical_or.reduce(zone_masks) if zones else np.ones((height, width), bool)
        if motion_masks:
            motion &= ~rasterize(motion_masks, height, width)
    return Masks(priv, motion, zone_masks)


class Layout:
    """Size- and region-dependent constants of one camera (built once per frame size).

    Size-only constants are shared between cameras; per-frame work buffers are
    per thread (see Scratch), so a camera costs little memory between samples."""

    def __init__(self, height: int, width: int, masks: Masks) -> None:
        if height < MIN_HEIGHT or width < MIN_WIDTH:
            raise ValueError(
                f"frame {width}x{height} is too small (minimum {MIN_WIDTH}x{MIN_HEIGHT})"
            )
        self.height, self.width = height, width
        self.bh, self.bw = height // 2, width // 2
        # Derivative maps cover interior rows 1, 3, 5, ... (see _derivatives).
        self.dh = (height - 1) // 2
        self.cells_b = cell_sums(self.bh, self.bw)
        self.cells_d = cell_sums(self.dh, width - 2)
        self.keep8 = None if masks.privacy is None else (~masks.privacy).astype(np.uint8)
        # Histogram subsample: every other pixel each way (the statistics don't need all).
        self.hist_masked = 0 if masks.privacy is None else int(masks.privacy[::2, ::2].sum())
        self.valid_b = self._valid_binned(masks.privacy)
        self.valid_d = self._valid_derivative(masks.privacy)
        self.valid_b_mask = None if self.valid_b is None else self.valid_b > 0
        full_b = self.cells_b.counts
        full_d = self.cells_d.counts
        self.cell_count_b = full_b if self.valid_b is None else self.cells_b(self.valid_b)
        self.cell_count_d = full_d if self.valid_d is None else self.cells_d(self.valid_d)
        # Usable cells: mostly unmasked (binned grid), fully unmasked (noise maps).
        self.cells_ok = self.cell_count_b >= 0.5 * full_b
        self.noise_cells_ok = self.cell_count_d >= 0.9 * full_d
        self.valid_total_b = float(self.cell_count_b.sum())
        self.surface = _surface_projector(self.cells_ok.tobytes(), self.cells_ok.shape)
        # Where motion counts: None = every visible pixel.
        self.motion_b = self._motion_weight(masks.motion)
        self.motion_cells = (
            self.cell_count_b if self.motion_b is None else self.cells_b(self.motion_b)
        )
        self.motion_total = float(self.motion_cells.sum())
        self.zones_b = tuple(self._motion_weight(z) for z in masks.zones)

    def _valid_binned(self, privacy: np.ndarray | None) -> np.ndarray | None:
        if privacy is None:
            return None
        return (bin2(privacy.astype(np.float32)) == 0.0).astype(np.float32)

    def _valid_derivative(self, privacy: np.ndarray | None) -> np.ndarray | None:
        """1 where the 3x3 neighbourhood is unmasked: mask edges are not image detail."""
        if privacy is None:
            return None
        m = privacy
        near = np.zeros((self.height - 2, self.width - 2), dtype=bool)
        for dy in range(3):
            for dx in range(3):
                near |= m[dy : dy + self.height - 2, dx : dx + self.width - 2]
        return (~near[0 : 2 * self.dh : 2]).astype(np.float32)

    def _motion_weight(self, region: np.ndarray | None) -> np.ndarray | None:
        """0/1 float32 at binned size: inside the region and visible."""
        if region is None:
            return self.valid_b
        inside = (bin2(region.astype(np.float32)) >= 0.5).astype(np.float32)
        return inside if self.valid_b is None else inside * self.valid_b


class Scratch:
    """Per-frame work buffers for one frame size, one set per thread: analyzers of
    different cameras may run in parallel threads, one camera's never does."""

    def __init__(self, height: int, width: int) -> None:
        bh, bw, dh = height // 2, width // 2, (height - 1) // 2
        self.f = np.empty((height, width), np.float32)
        self.binned = np.empty((bh, bw), np.float32)
        self.dxx = np.empty((height, width - 2), np.float32)
        self.lap = np.empty((dh, width - 2), np.float32)
        self.immerkaer = np.empty((dh, width - 2), np.float32)
        self.tmp1 = np.empty((bh, bw), np.float32)
        self.tmp2 = np.empty((bh, bw), np.float32)


_local = threading.local()


def scratch(height: int, width: int) -> Scratch:
    buffers: dict[tuple[int, int], Scratch] | None = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    s = buffers.get((height, width))
    if s is None:
        s = buffers[(height, width)] = Scratch(height, width)
    return s


@dataclass(slots=True)
class Prepared:
    """Derived data of one frame. `binned` is a scratch buffer: valid until the next
    prepare() in this thread; copy what must outlive the analyze() call."""

    gray: np.ndarray  # uint8, privacy-masked
    hist: np.ndarray  # 256 counts of unmasked pixels (every other pixel each way)
    binned: np.ndarray  # float32 (h/2, w/2), masked-edge pixels zeroed
    cell_mean: np.ndarray  # (9, 16) over valid binned pixels
    cell_std: np.ndarray  # (9, 16)
    cell_clipped: np.ndarray  # (9, 16) fraction of binned pixels clipped white or crushed black
    lap_cells: np.ndarray  # (9, 16) mean squared Laplacian per cell (masked edges excluded)
    immerkaer_cells: np.ndarray  # (9, 16) mean |Immerkaer response| per cell


def apply_mask(image: np.ndarray, keep8: np.ndarray | None) -> np.ndarray:
    """Masked copy of an image; keep8 is 1 where visible, 0 where masked, of the image's
    exact shape (a broadcast HxWx1 multiply is 30x slower). The image itself if None."""
    if keep8 is None:
        return image
    return image * keep8


def prepare(gray: np.ndarray, layout: Layout) -> Prepared:
    gray = apply_mask(gray, layout.keep8)
    hist = np.bincount(gray[::2, ::2].ravel(), minlength=256)
    hist[0] -= layout.hist_masked
    work = scratch(layout.height, layout.width)
    f = work.f
    np.copyto(f, gray, casting="unsafe")
    binned = bin2(f, out=work.binned)
    if layout.valid_b is not None:
        binned *= layout.valid_b
    count = np.maximum(layout.cell_count_b, 1.0)
    cell_mean = layout.cells_b(binned) / count
    cell_sq = layout.cells_b(binned * binned) / count
    cell_std = np.sqrt(np.maximum(cell_sq - cell_mean * cell_mean, 0.0))
    clipped = (binned >= CLIP_HIGH) | (binned <= CLIP_LOW)
    if layout.valid_b is not None:
        clipped &= layout.valid_b > 0
    cell_clipped = layout.cells_b(clipped.astype(np.float32)) / count
    lap2, immerkaer = _derivatives(f, layout, work)
    count_d = np.maximum(layout.cell_count_d, 1.0)
    lap_cells = layout.cells_d(lap2) / count_d
    immerkaer_cells = layout.cells_d(immerkaer) / count_d
    return Prepared(
        gray, hist, binned, cell_mean, cell_std, cell_clipped, lap_cells, immerkaer_cells
    )


def _derivatives(f: np.ndarray, layout: Layout, work: Scratch) -> tuple[np.ndarray, np.ndarray]:
    """Squared Laplacian and |Immerkaer| maps on every other row.

    Both only feed per-cell statistics, which half the rows estimate as well;
    the horizontal second difference is shared."""
    h = layout.height
    dxx, lap, imm = work.dxx, work.lap, work.immerkaer
    mid = f[:, 1:-1]
    np.add(f[:, :-2], f[:, 2:], out=dxx)
    dxx -= mid
    dxx -= mid
    above, centre, below = slice(0, h - 2, 2), slice(1, h - 1, 2), slice(2, h, 2)
    # Immerkaer's mask [1 -2 1]^T [1 -2 1] = vertical second difference of dxx.
    np.add(dxx[above], dxx[below], out=imm)
    imm -= dxx[centre]
    imm -= dxx[centre]
    np.abs(imm, out=imm)
    c = f[centre, 1:-1]
    np.add(f[above, 1:-1], f[below, 1:-1], out=lap)
    lap -= c
    lap -= c
    lap += dxx[centre]
    lap *= lap
    if layout.valid_d is not None:
        lap *= layout.valid_d
        imm *= layout.valid_d
    return lap, imm


GAIN_RANGE = (0.05, 20.0)


def fit_gain(x: np.ndarray, y: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """Least-squares y = g x + o on cell means, refit without the worst-fitting cells
    (moving objects), g clamped to a plausible range."""
    xs, ys = x[valid].astype(np.float64), y[valid].astype(np.float64)
    if xs.size < 8:
        return 1.0, 0.0
    gain, offset = _line(xs, ys)
    resid = np.abs(ys - (gain * xs + offset))
    k = resid.size // 2
    keep = resid <= max(2.0 * float(np.partition(resid, k)[k]), 1.0)
    if np.count_nonzero(keep) >= 8:
        gain, offset = _line(xs[keep], ys[keep])
    lo, hi = GAIN_RANGE
    if not lo <= gain <= hi:
        return 1.0, float(ys.sum() - xs.sum()) / xs.size
    return gain, offset


def _line(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
    n = xs.size
    sx, sy = float(xs.sum()), float(ys.sum())
    vx = float(xs @ xs) - sx * sx / n
    if vx < 1e-6 * n:
        return 1.0, (sy - sx) / n
    gain = (float(xs @ ys) - sx * sy / n) / vx
    return gain, (sy - gain * sx) / n
