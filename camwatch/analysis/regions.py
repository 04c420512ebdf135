"""Rasterize normalized rectangles and polygons into boolean pixel masks.

A region is anything with `.points`: a closed polygon of (x, y) pairs in 0..1
of the frame's width and height (camwatch.config.Region stores a rectangle as
its four corners, so one rule covers both). A pixel belongs to the region when
its centre is inside the polygon by the even-odd rule, so a mask means the
same area at any sample resolution.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np


class HasPoints(Protocol):
    @property
    def points(self) -> Sequence[Sequence[float]]: ...


def region_points(region: HasPoints) -> np.ndarray:
    """The region's vertices as a float64 (n, 2) array, validated."""
    try:
        pts = np.asarray(region.points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"region points are not (x, y) number pairs: {exc}") from None
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"region points must be (x, y) pairs, got shape {pts.shape}")
    if len(pts) < 3:
        raise ValueError(f"a region needs at least 3 points, got {len(pts)}")
    if not np.all(np.isfinite(pts)):
        raise ValueError("region points must be finite numbers")
    return pts


def polygon_mask(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """Boolean (height, width): pixel centres inside the normalized polygon."""
    if height <= 0 or width <= 0:
        raise ValueError(f"mask size must be positive, got {width}x{height}")
    ys = (np.arange(height, dtype=np.float64) + 0.5) / height
    xs = (np.arange(width, dtype=np.float64) + 0.5) / width
    inside = np.zeros((height, width), dtype=bool)
    x1, y1 = points[:, 0], points[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    for ax, ay, bx, by in zip(x1, y1, x2, y2, strict=True):
        if ay == by:
            continue  # horizontal edges never cross a horizontal ray
        rows = (ay > ys) != (by > ys)
        if not rows.any():
            continue
        # x where the edge crosses each row's centre line; pixels left of it toggle.
        cross = ax + (ys[rows] - ay) * (bx - ax) / (by - ay)
        inside[rows] ^= xs[None, :] < cross[:, None]
    return inside


def rasterize(regions: Iterable[HasPoints], height: int, width: int) -> np.ndarray:
    """Union of the regions as a boolean (height, width) mask (all False if none)."""
    mask = np.zeros((height, width), dtype=bool)
    for region in regions:
        mask |= polygon_mask(region_points(region), height, width)
    return mask
