"""Rasterizing normalized rectangles and polygons into pixel masks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from camwatch.analysis.regions import polygon_mask, rasterize, region_points


@dataclass(frozen=True, slots=True)
class Region:  # stand-in for camwatch.config.Region
    kind: str
    points: tuple[tuple[float, float], ...]


def rect(x0: float, y0: float, x1: float, y1: float) -> Region:
    return Region("rect", ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def test_rect_covers_exactly_its_pixels() -> None:
    mask = rasterize([rect(0.25, 0.5, 0.5, 1.0)], 180, 320)
    assert mask.sum() == 80 * 90
    assert mask[90:, 80:160].all()
    assert not mask[:90].any() and not mask[:, :80].any() and not mask[:, 160:].any()


def test_triangle_area_and_orientation() -> None:
    # Lower-left half of the frame, split along the diagonal.
    tri = Region("polygon", ((0.0, 0.0), (0.0, 1.0), (1.0, 1.0)))
    mask = rasterize([tri], 200, 200)
    assert abs(mask.mean() - 0.5) < 0.01
    assert mask[190, 10] and not mask[10, 190]


def test_same_region_same_share_at_any_resolution() -> None:
    poly = Region("polygon", ((0.1, 0.2), (0.7, 0.1), (0.9, 0.8), (0.3, 0.9)))
    small = rasterize([poly], 90, 160).mean()
    large = rasterize([poly], 360, 640).mean()
    assert abs(small - large) < 0.01


def test_union_and_even_odd_self_overlap() -> None:
    a, b = rect(0.0, 0.0, 0.5, 0.5), rect(0.25, 0.25, 0.75, 0.75)
    union = rasterize([a, b], 100, 100)
    assert union.sum() == 2 * 50 * 50 - 25 * 25
    # A bow-tie polygon is two triangles by the even-odd rule: its crossing centre is in.
    bow = np.array([(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)])
    m = polygon_mask(bow, 100, 100)
    assert m[50, 5] and m[50, 95] and not m[5, 50] and not m[95, 50]


def test_no_regions_is_empty_mask() -> None:
    assert not rasterize([], 18, 32).any()


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (((0.0, 0.0), (1.0, 1.0)), "at least 3"),
        (((0.0, 0.0), (1.0, float("nan")), (0.5, 0.5)), "finite"),
        (((0.0, 0.0, 1.0), (1.0, 1.0, 1.0), (0.5, 0.5, 1.0)), "pairs"),
        ((("a", 0.0), (1.0, 1.0), (0.5, 0.5)), "number pairs"),
    ],
)
def test_bad_points_are_rejected(points: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        region_points(Region("polygon", points))
