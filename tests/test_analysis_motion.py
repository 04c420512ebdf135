"""Motion: gain-compensated running-average background, zones and masks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from camwatch.analysis import AnalysisResult, AnalysisSettings, CameraAnalyzer
from camwatch.analysis.synthetic import Blob, FakeCamera


@dataclass(frozen=True, slots=True)
class Region:  # stand-in for camwatch.config.Region
    kind: str
    points: tuple[tuple[float, float], ...]


def rect(x0: float, y0: float, x1: float, y1: float) -> Region:
    return Region("rect", ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def walk(
    an: CameraAnalyzer,
    cam: FakeCamera,
    n: int,
    y: float = 0.6,
    x0: float = 0.15,
    step: float = 0.08,
    **kw: object,
) -> list[AnalysisResult]:
    """A blob crossing the view, one position per sample."""
    return [an.analyze(cam.sample(blobs=[Blob(x0 + step * i, y, 0.1)], **kw)) for i in range(n)]


def test_static_scene_has_no_motion() -> None:
    cam = FakeCamera(1, noise=2.0)
    an = CameraAnalyzer()
    results = [an.analyze(cam.sample()) for _ in range(6)]
    assert all(r.motion_level == 0.0 and not r.motion_grid.any() for r in results)


def test_moving_object_gives_level_and_grid_cells_where_it_is() -> None:
    cam = FakeCamera(2)
    an = CameraAnalyzer()
    r = walk(an, cam, 5)[-1]
    assert 1.0 < r.motion_level < 15.0
    grid = r.motion_grid
    assert grid.shape == (9, 16) and grid.dtype == bool
    rows = np.nonzero(grid)[0]
    # The blob now sits at x=0.47, y=0.6 (plus the trail it left in the background).
    assert rows.min() >= 3 and rows.max() <= 7
    assert grid[5, 7]
    assert not grid[:2].any()


@pytest.mark.parametrize(
    "kw", [{"gain": 1.35, "offset": 8.0}, {"gain": 0.6}, {"gain": 0.8, "offset": -10.0}]
)
def test_global_light_change_is_not_motion(kw: dict[str, float]) -> None:
    cam = FakeCamera(3)
    an = CameraAnalyzer()
    for _ in range(4):
        an.analyze(cam.sample())
    r = an.analyze(cam.sample(**kw))
    assert r.motion_level < 2.0
    assert not r.condition("moved").active


def test_ir_switch_recalibrates() -> None:
    cam = FakeCamera(4)
    an = CameraAnalyzer()
    for _ in range(4):
        an.analyze(cam.sample())
    switch = an.analyze(cam.sample(ir=True))
    assert switch.light_change and switch.motion_level == 0.0
    after = [an.analyze(cam.sample(ir=True)) for _ in range(3)]
    assert all(r.motion_level < 0.5 for r in after)
    back = an.analyze(cam.sample())
    assert back.light_change and back.motion_level == 0.0


def test_most_of_the_frame_changing_is_a_light_change() -> None:
    cam = FakeCamera(5)
    an = CameraAnalyzer(AnalysisSettings(light_change_pct=50))
    for _ in range(3):
        an.analyze(cam.sample(ir=True))
    # Lights switched inside a gray (IR) image: no colour cue, most pixels change.
    r = an.analyze(cam.sample(ir=True, shift=(30, 20)))
    assert r.light_change and r.motion_level == 0.0


def test_privacy_mask_hides_motion_inside_it() -> None:
    cam = FakeCamera(6)
    masked = CameraAnalyzer(privacy_masks=[rect(0.0, 0.3, 1.0, 0.9)])
    plain = CameraAnalyzer()
    for i in range(5):
        s = cam.sample(blobs=[Blob(0.15 + 0.08 * i, 0.6, 0.1)])
        rm, rp = masked.analyze(s), plain.analyze(s)
    assert rp.motion_level > 1.0
    assert rm.motion_level == 0.0 and not rm.motion_grid.any()


def test_motion_mask_is_ignored_and_zones_count_only_inside() -> None:
    cam = FakeCamera(7)
    ignore = CameraAnalyzer(motion_masks=[rect(0.0, 0.4, 1.0, 0.8)])
    zone_hit = CameraAnalyzer(motion_zones=[rect(0.0, 0.4, 1.0, 0.8), rect(0.0, 0.0, 0.2, 0.2)])
    zone_miss = CameraAnalyzer(motion_zones=[rect(0.0, 0.0, 1.0, 0.3)])
    for i in range(5):
        s = cam.sample(blobs=[Blob(0.15 + 0.08 * i, 0.6, 0.1)])
        ri, rh, rm = ignore.analyze(s), zone_hit.analyze(s), zone_miss.analyze(s)
    assert ri.motion_level == 0.0 and not ri.motion_grid.any()
    assert rh.motion_level > 1.0 and rh.zone_motion[0] > 1.0 and rh.zone_motion[1] == 0.0
    assert rm.motion_level == 0.0 and rm.zone_motion == (0.0,)
    # Masks and zones restrict motion only: the image checks still see the whole frame.
    assert rm.luma_mean == pytest.approx(ri.luma_mean)


def test_background_absorbs_a_parked_object() -> None:
    cam = FakeCamera(8)
    an = CameraAnalyzer(AnalysisSettings(motion_alpha=0.3))
    an.analyze(cam.sample())
    parked = [Blob(0.5, 0.6, 0.12)]
    levels = [an.analyze(cam.sample(blobs=parked)).motion_level for _ in range(12)]
    assert levels[0] > 1.0 and levels[-1] < 0.2
