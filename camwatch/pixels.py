"""Real pixels in the terminal: kitty's graphics protocol and sixel, for an opt-in zoom.

Half blocks (camwatch.thumbs) work everywhere; these protocols show the frame
at full resolution but only in some terminals, cost 5-15 times the bytes, and
do not survive tmux or screen reliably. So they are used only for an explicit
zoom: kitty when the terminal says it is kitty, sixel only when asked for.

Core-side: no Textual. Every encoder is a pure function of the image.
"""

from __future__ import annotations

import base64
import os
import re
import struct
import zlib
from collections.abc import Mapping
from enum import StrEnum

import numpy as np

KITTY_CHUNK = 4096  # base64 bytes per escape sequence, as the protocol requires
SIXEL_MAX_COLOURS = 256
ESC = "\x1b"
ST = "\x1b\\"  # string terminator


class Pixels(StrEnum):
    AUTO = "auto"  # kitty when the terminal is kitty, else none
    KITTY = "kitty"
    SIXEL = "sixel"
    OFF = "off"


def parse_pixels(value: str) -> Pixels:
    try:
        return Pixels(value.strip().lower())
    except ValueError:
        valid = ", ".join(p.value for p in Pixels)
        raise ValueError(f"unknown pixels setting {value!r}: choose one of {valid}") from None


def pixel_protocol(setting: Pixels, env: Mapping[str, str] | None = None) -> Pixels | None:
    """The protocol to zoom with, or None. Auto picks kitty only inside kitty itself
    (TERM=xterm-kitty or KITTY_WINDOW_ID) and not through tmux/screen; sixel support
    cannot be detected without a terminal query, so it is never picked automatically."""
    env = os.environ if env is None else env
    if setting in (Pixels.KITTY, Pixels.SIXEL):
        return setting
    if setting is Pixels.OFF:
        return None
    multiplexed = "TMUX" in env or env.get("TERM", "").startswith("screen")
    kitty = env.get("TERM") == "xterm-kitty" or "KITTY_WINDOW_ID" in env
    return Pixels.KITTY if kitty and not multiplexed else None


def _rgb(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError("expected a uint8 HxWx3 RGB image")
    if image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"expected a non-empty HxWx3 RGB image, got shape {image.shape}")
    return np.ascontiguousarray(image)


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscale by a whole factor (pixels stay sharp squares)."""
    if factor <= 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


# --- PNG + kitty ------------------------------------------------------------


def png(image: np.ndarray) -> bytes:
    """A truecolour PNG of an RGB image (no filter, zlib level 6): all kitty needs."""
    rgb = _rgb(image)
    h, w, _ = rgb.shape
    rows = np.zeros((h, 1 + w * 3), np.uint8)  # each row starts with filter type 0
    rows[:, 1:] = rgb.reshape(h, w * 3)
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def kitty(image: np.ndarray, cols: int, rows: int, image_id: int = 1) -> str:
    """Escape sequences that show the image scaled to cols x rows cells at the cursor.

    PNG (f=100) sent directly (t=d) in base64 chunks of at most 4096 bytes, m=1
    on every chunk but the last; q=2 so the terminal sends no reply that would
    arrive as key presses.
    """
    data = base64.b64encode(png(image)).decode("ascii")
    chunks = [data[i : i + KITTY_CHUNK] for i in range(0, len(data), KITTY_CHUNK)] or [""]
    out = []
    for i, chunk in enumerate(chunks):
        more = 1 if i < len(chunks) - 1 else 0
        if i == 0:
            head = f"a=T,f=100,t=d,q=2,i={image_id},c={cols},r={rows},C=1,m={more}"
        else:
            head = f"m={more}"
        out.append(f"{ESC}_G{head};{chunk}{ST}")
    return "".join(out)


def kitty_delete(image_id: int = 1) -> str:
    """Remove the image (kitty images live on their own layer: text does not erase them)."""
    return f"{ESC}_Ga=d,d=I,i={image_id},q=2{ST}"


# --- sixel ------------------------------------------------------------------


def quantize(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(palette Kx3 uint8, indices HxW): the exact colours when there are at most 256,
    else a 6x7x6 colour cube (green gets the extra level: the eye sees it best)."""
    rgb = _rgb(image)
    flat = rgb.reshape(-1, 3)
    packed = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    colours, inverse = np.unique(packed, return_inverse=True)
    if len(colours) <= SIXEL_MAX_COLOURS:
        palette = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1)
        return palette.astype(np.uint8), inverse.reshape(rgb.shape[:2])
    levels = np.array([6, 7, 6])
    steps = np.rint(flat.astype(np.float64) * (levels - 1) / 255).astype(np.int64)
    index = (steps[:, 0] * 7 + steps[:, 1]) * 6 + steps[:, 2]
    grid = np.stack(np.meshgrid(*(np.arange(n) for n in levels), indexing="ij"), axis=-1)
    palette = np.rint(grid.reshape(-1, 3) * 255 / (levels - 1)).astype(np.uint8)
    return palette, index.reshape(rgb.shape[:2])


def sixel(image: np.ndarray) -> str:
    """The image as one sixel sequence (DCS q ... ST).

    Raster attributes give the size; each palette colour is a register in
    RGB percent; each band of 6 rows lists, per colour present, one sixel
    character per column (63 + a bit per row) with runs of 4 or more written
    as !count, `$` between colours and `-` between bands.
    """
    palette, index = quantize(image)
    h, w = index.shape
    out = [f'{ESC}Pq"1;1;{w};{h}']
    for i, (r, g, b) in enumerate(palette.astype(np.int64)):
        out.append(f"#{i};2;{round(r * 100 / 255)};{round(g * 100 / 255)};{round(b * 100 / 255)}")
    bands = []
    weights = (1 << np.arange(6, dtype=np.uint8))[:, None]
    for top in range(0, h, 6):
        band = index[top : top + 6]
        lines = []
        for colour in np.unique(band):
            bits = ((band == colour).astype(np.uint8) * weights[: len(band)]).sum(axis=0)
            text = (bits + 63).astype(np.uint8).tobytes().decode("ascii").rstrip("?")
            lines.append(f"#{colour}{_runs(text)}")
        bands.append("$".join(lines))
    out.append("-".join(bands))
    out.append(ST)
    return "".join(out)


_RUN = re.compile(r"(.)\1{3,}")


def _runs(text: str) -> str:
    return _RUN.sub(lambda m: f"!{len(m.group(0))}{m.group(1)}", text)
