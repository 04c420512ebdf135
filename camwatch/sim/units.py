"""Parsing of the sim's human-friendly values: bitrates and frame sizes."""

from __future__ import annotations

import re
from typing import Any

_BITRATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)(?:bit/s|bps|b)?\s*$")
_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_bitrate(value: Any) -> int:
    """'500k', '2M', '1.5m', 800000 → bits per second. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"bitrate must be a number or like '500k', got {value!r}")
    if isinstance(value, int | float):
        bits = int(value)
    else:
        match = _BITRATE.match(str(value))
        if not match:
            raise ValueError(f"bitrate {value!r} is not like 500k, 2M or 800000")
        scale = {"": 1, "k": 1000, "m": 1_000_000}[match.group(2).lower()]
        bits = int(float(match.group(1)) * scale)
    if not 10_000 <= bits <= 100_000_000:
        raise ValueError(f"bitrate {value!r} outside 10k..100M")
    return bits


def parse_size(value: Any) -> tuple[int, int]:
    """'640x360' → (640, 360). Raises ValueError for odd or tiny sizes."""
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"size {value!r} is not like 640x360")
    width, height = int(match.group(1)), int(match.group(2))
    if width % 2 or height % 2 or not (64 <= width <= 4096 and 64 <= height <= 2304):
        raise ValueError(f"size {value!r}: need even width and height within 64x64..4096x2304")
    return width, height
