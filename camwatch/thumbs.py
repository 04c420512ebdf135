"""Camera thumbnails as terminal cells: half blocks in truecolor, 256, 16 colours or ASCII.

One cell shows two vertical pixels: the upper one as the foreground colour of
"▀" and the lower one as the background. Terminal cells are about twice as tall
as wide, so these pixels are roughly square. Monochrome output has no colour at
all: each cell is a character of a brightness ramp (logs, tickets, `NO_COLOR`).

This module is core-side: it never imports Textual. The TUI turns `Cells` into
its own strips; `camwatch snapshot` prints `Cells.to_ansi()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

UPPER_HALF = "▀"
MONO_RAMP = " .:-=+*#%@"  # dark to bright; ASCII so it survives logs and mail


class Depth(StrEnum):
    TRUECOLOR = "truecolor"
    C256 = "256"
    C16 = "16"
    MONO = "mono"


RGB = tuple[int, int, int]
Colour = RGB | int | None  # truecolor: RGB; 256/16: palette index; mono or "keep": None
Cell = tuple[str, Colour, Colour]  # (char, fg, bg)


@dataclass(frozen=True, slots=True)
class Cells:
    """A rendered thumbnail: rows of (char, fg, bg) at one colour depth.

    fg is None on cells whose foreground does not matter (a space showing only
    its background) and on every monochrome cell; bg is None in monochrome.
    """

    depth: Depth
    rows: tuple[tuple[Cell, ...], ...]

    @property
    def width(self) -> int:
        return len(self.rows[0]) if self.rows else 0

    @property
    def height(self) -> int:
        return len(self.rows)

    def to_ansi(self) -> str:
        """The thumbnail as text with SGR escapes, one line per row.

        Colours are only re-emitted when they change, and every line ends with
        a reset, so lines can be printed, grepped or cut independently.
        """
        if self.depth is Depth.MONO:
            return "".join("".join(ch for ch, _, _ in row) + "\n" for row in self.rows)
        lines = [_ansi_row(row, self.depth) for row in self.rows]
        return "".join(line + "\x1b[0m\n" for line in lines)


# --- colour depth ----------------------------------------------------------


def detect_depth(env: Mapping[str, str] | None = None) -> Depth:
    """Guess the terminal's colour depth from the environment.

    NO_COLOR (any value, https://no-color.org) wins; then COLORTERM; then
    TERM. OpenSSH does not forward COLORTERM by default, so most SSH sessions
    end up at 256 through TERM=xterm-256color.
    """
    env = os.environ if env is None else env
    if "NO_COLOR" in env:
        return Depth.MONO
    if env.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return Depth.TRUECOLOR
    term = env.get("TERM", "").lower()
    if term in ("", "dumb"):
        return Depth.MONO
    if term.endswith("256color") or term.endswith("256"):
        return Depth.C256
    if term.endswith("direct") or term.endswith("truecolor"):
        return Depth.TRUECOLOR
    return Depth.C16


def parse_depth(value: str, env: Mapping[str, str] | None = None) -> Depth:
    """`--colors` value to a Depth; "auto" detects. Unknown values raise ValueError."""
    text = value.strip().lower()
    if text == "auto":
        return detect_depth(env)
    aliases = {"24bit": Depth.TRUECOLOR, "256color": Depth.C256, "none": Depth.MONO}
    if text in aliases:
        return aliases[text]
    try:
        return Depth(text)
    except ValueError:
        valid = ", ".join(["auto", *(d.value for d in Depth)])
        raise ValueError(f"unknown colour depth {value!r}: choose one of {valid}") from None


# --- geometry --------------------------------------------------------------


def fit_cells(img_w: int, img_h: int, max_w: int, max_h: int) -> tuple[int, int]:
    """Largest (width, height) in cells within the box that keeps the image's aspect.

    A cell holds 1x2 pixels of about square shape, so an image of W x H pixels
    wants width/(2*height) == W/H.
    """
    if img_w <= 0 or img_h <= 0 or max_w <= 0 or max_h <= 0:
        return (0, 0)
    aspect = img_w / img_h
    width = max_w
    height = round(width / aspect / 2)
    if height > max_h:
        height = max_h
        width = max(1, min(max_w, round(height * 2 * aspect)))
    return (width, max(1, height))


def as_rgb(image: object) -> np.ndarray:
    """Validate a frame: uint8 HxWx3 (HxW grey is promoted). Raises ValueError."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"thumbnail needs a numpy array, got {type(image).__name__}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"thumbnail needs an HxWx3 RGB array, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError("thumbnail image is empty")
    if image.dtype != np.uint8:
        raise ValueError(f"thumbnail needs uint8 pixels, got {image.dtype}")
    return image


def downscale(rgb: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """Area-average resize to out_w x out_h (nearest neighbour when enlarging)."""
    h, w = rgb.shape[:2]
    ys = (np.arange(out_h) * h) // out_h
    xs = (np.arange(out_w) * w) // out_w
    acc = np.add.reduceat(rgb.astype(np.uint32), ys, axis=0)
    acc = np.add.reduceat(acc, xs, axis=1)
    # reduceat returns the single element where edges repeat (enlarging): count 1
    ny = np.maximum(np.diff(np.append(ys, h)), 1)
    nx = np.maximum(np.diff(np.append(xs, w)), 1)
    counts = (ny[:, None] * nx[None, :])[:, :, None]
    return ((acc + counts // 2) // counts).astype(np.uint8)


def pixelate(rgb: np.ndarray, blocks: int = 12) -> np.ndarray:
    """A coarse mosaic of the same size: `blocks` squares across the width.

    For privacy: faces and plates are unreadable while a technician can still
    tell a working camera (a scene with light and shapes) from a broken one.
    """
    h, w = rgb.shape[:2]
    bx = max(1, min(blocks, w))
    by = max(1, min(h, round(bx * h / w)))
    small = downscale(rgb, bx, by)
    ys = (np.arange(h) * by) // h
    xs = (np.arange(w) * bx) // w
    return small[ys][:, xs]


# --- palettes --------------------------------------------------------------

_CUBE_LEVELS = np.array([0, 95, 135, 175, 215, 255], dtype=np.int32)
_CUBE_EDGES = (_CUBE_LEVELS[:-1] + _CUBE_LEVELS[1:]) / 2

# xterm's default 16 colours; the terminal's own palette decides the real ones.
XTERM16: tuple[RGB, ...] = (
    (0, 0, 0),
    (205, 0, 0),
    (0, 205, 0),
    (205, 205, 0),
    (0, 0, 238),
    (205, 0, 205),
    (0, 205, 205),
    (229, 229, 229),
    (127, 127, 127),
    (255, 0, 0),
    (0, 255, 0),
    (255, 255, 0),
    (92, 92, 255),
    (255, 0, 255),
    (0, 255, 255),
    (255, 255, 255),
)
_XTERM16 = np.array(XTERM16, dtype=np.int32)


def quantize_256(rgb: np.ndarray) -> np.ndarray:
    """Nearest xterm-256 index (6x6x6 cube 16-231 or grey ramp 232-255) per pixel."""
    px = rgb.astype(np.int32)
    idx = np.searchsorted(_CUBE_EDGES, px, side="right")  # 0..5 per channel
    cube = _CUBE_LEVELS[idx]
    cube_index = 16 + 36 * idx[..., 0] + 6 * idx[..., 1] + idx[..., 2]
    grey_step = np.clip(np.rint((px.mean(axis=-1) - 8) / 10), 0, 23).astype(np.int32)
    grey = (8 + 10 * grey_step)[..., None]
    cube_err = ((px - cube) ** 2).sum(axis=-1)
    grey_err = ((px - grey) ** 2).sum(axis=-1)
    return np.where(grey_err < cube_err, 232 + grey_step, cube_index)


def palette_256(index: int) -> RGB:
    """The RGB value xterm shows for a 256-colour index (16-255)."""
    if index >= 232:
        v = 8 + 10 * (index - 232)
        return (v, v, v)
    if index >= 16:
        i = index - 16
        levels = _CUBE_LEVELS
        return (int(levels[i // 36]), int(levels[(i // 6) % 6]), int(levels[i % 6]))
    return XTERM16[index]


def quantize_16(rgb: np.ndarray) -> np.ndarray:
    """Nearest of the 16 ANSI colours (xterm defaults) per pixel."""
    px = rgb.astype(np.int32)[..., None, :]
    err = ((px - _XTERM16) ** 2).sum(axis=-1)
    return err.argmin(axis=-1)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma, 0..255 float."""
    px = rgb.astype(np.float32)
    return px[..., 0] * 0.299 + px[..., 1] * 0.587 + px[..., 2] * 0.114


# --- rendering -------------------------------------------------------------


def render_cells(
    image: object,
    width_cells: int,
    height_cells: int,
    depth: Depth,
    *,
    pixelate_blocks: int | None = None,
    fit: bool = True,
) -> Cells:
    """Render an RGB frame into at most width_cells x height_cells cells.

    fit keeps the image's aspect ratio (the result may be narrower or shorter
    than the box); pixelate_blocks applies a privacy mosaic first.
    """
    rgb = as_rgb(image)
    if width_cells <= 0 or height_cells <= 0:
        return Cells(depth, ())
    if fit:
        width_cells, height_cells = fit_cells(rgb.shape[1], rgb.shape[0], width_cells, height_cells)
    px = downscale(rgb, width_cells, height_cells * 2)
    if pixelate_blocks:
        # After downscaling, so mosaic edges fall on pixel edges and no block blends
        # with its neighbours: the screen carries no more detail than the mosaic.
        px = pixelate(px, pixelate_blocks)
    if depth is Depth.MONO:
        return Cells(depth, _mono_rows(px))
    top, bottom = px[0::2], px[1::2]
    if depth is Depth.TRUECOLOR:
        return Cells(depth, _colour_rows(_as_rgb_tuples(top), _as_rgb_tuples(bottom)))
    quantize = quantize_256 if depth is Depth.C256 else quantize_16
    return Cells(depth, _colour_rows(quantize(top).tolist(), quantize(bottom).tolist()))


def render_ansi(
    image: object,
    width_cells: int,
    height_cells: int,
    depth: Depth | str,
    *,
    pixelate_blocks: int | None = None,
) -> str:
    """A frame as printable text (for `camwatch snapshot`), lines ending in a reset."""
    depth = parse_depth(depth) if isinstance(depth, str) and not isinstance(depth, Depth) else depth
    return render_cells(
        image, width_cells, height_cells, depth, pixelate_blocks=pixelate_blocks
    ).to_ansi()


def _as_rgb_tuples(px: np.ndarray) -> list[list[RGB]]:
    return [[(int(r), int(g), int(b)) for r, g, b in row] for row in px.tolist()]


def _colour_rows(top: list[list], bottom: list[list]) -> tuple[tuple[Cell, ...], ...]:
    rows: list[tuple[Cell, ...]] = []
    for top_row, bottom_row in zip(top, bottom, strict=True):
        # A cell whose two pixels agree is a plain space: fewer bytes on the wire.
        rows.append(
            tuple(
                (" ", None, b) if t == b else (UPPER_HALF, t, b)
                for t, b in zip(top_row, bottom_row, strict=True)
            )
        )
    return tuple(rows)


def _mono_rows(px: np.ndarray) -> tuple[tuple[Cell, ...], ...]:
    luma = luminance(px)
    cell_luma = (luma[0::2] + luma[1::2]) / 2
    steps = len(MONO_RAMP)
    levels = np.clip((cell_luma * steps / 256).astype(np.int32), 0, steps - 1)
    return tuple(tuple((MONO_RAMP[i], None, None) for i in row) for row in levels.tolist())


def sgr_fg(colour: Colour, depth: Depth) -> str:
    if isinstance(colour, tuple):
        return "38;2;{};{};{}".format(*colour)
    if depth is Depth.C256:
        return f"38;5;{colour}"
    assert isinstance(colour, int)
    return str(30 + colour) if colour < 8 else str(90 + colour - 8)


def sgr_bg(colour: Colour, depth: Depth) -> str:
    if isinstance(colour, tuple):
        return "48;2;{};{};{}".format(*colour)
    if depth is Depth.C256:
        return f"48;5;{colour}"
    assert isinstance(colour, int)
    return str(40 + colour) if colour < 8 else str(100 + colour - 8)


def _ansi_row(row: tuple[Cell, ...], depth: Depth) -> str:
    out: list[str] = []
    fg: Colour = None
    bg: Colour = None
    for ch, cell_fg, cell_bg in row:
        codes = []
        if cell_fg is not None and cell_fg != fg:
            codes.append(sgr_fg(cell_fg, depth))
            fg = cell_fg
        if cell_bg is not None and cell_bg != bg:
            codes.append(sgr_bg(cell_bg, depth))
            bg = cell_bg
        if codes:
            out.append("\x1b[" + ";".join(codes) + "m")
        out.append(ch)
    return "".join(out)
