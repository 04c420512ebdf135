"""Exposure (black, low light, overexposed, low contrast) and colour cast."""

from __future__ import annotations

import numpy as np
import pytest

from camwatch.analysis import AnalysisResult, AnalysisSettings, CameraAnalyzer
from camwatch.analysis.exposure import color_stats, exposure_stats
from camwatch.analysis.synthetic import FakeCamera
from camwatch.state import FrameSample, Severity


def first(cam: FakeCamera, **kw: object) -> AnalysisResult:
    """One sample through a fresh analyzer: absolute checks need no history."""
    return CameraAnalyzer().analyze(cam.sample(**kw))


def active(r: AnalysisResult) -> set[str]:
    return {c.kind for c in r.active}


def test_histogram_statistics() -> None:
    hist = np.zeros(256, np.int64)
    hist[10], hist[200], hist[255] = 50, 30, 20
    e = exposure_stats(hist)
    assert e.mean == pytest.approx((10 * 50 + 200 * 30 + 255 * 20) / 100)
    assert e.p2 == 10 and e.p98 == 255
    assert e.clipped == pytest.approx(0.2)
    assert 1.0 < e.entropy < 1.6


def test_healthy_scene_has_no_exposure_fault() -> None:
    r = first(FakeCamera(1))
    assert active(r) == set()
    assert 80 < r.luma_mean < 200 and r.contrast > 60 and r.clipped < 5


def test_black_image() -> None:
    r = first(FakeCamera(1), gain=0.02)
    c = r.condition("black")
    assert c.active and c.severity is Severity.CRITICAL
    assert c.value is not None and c.value < 16 and c.threshold == 16
    assert "image black" in c.reason
    # Black explains the rest: nothing else is raised, but the values are kept.
    assert active(r) == {"black"}
    assert r.condition("low_light").value == pytest.approx(c.value)


def test_black_with_osd_clock_is_still_black() -> None:
    r = first(FakeCamera(2), gain=0.0, offset=2.0, clock=123456)
    assert active(r) == {"black"}


def test_dark_scene_with_texture_is_low_light_not_black_nor_covered() -> None:
    r = first(FakeCamera(3), gain=0.1, noise=1.0)
    assert r.luma_mean < 16
    assert active(r) == {"low_light"}
    assert "dark scene" in r.condition("black").reason


def test_overexposed() -> None:
    r = first(FakeCamera(4), gain=2.2, offset=60)
    c = r.condition("overexposed")
    assert c.active and c.value is not None and c.value > 30
    assert "low_contrast" not in active(r) and "covered" not in active(r)


def test_low_contrast() -> None:
    r = first(FakeCamera(5), gain=0.12, offset=110)
    c = r.condition("low_contrast")
    assert c.active and c.value is not None and c.value < 24
    assert active(r) == {"low_contrast"}


def test_brightness_change_is_not_an_exposure_fault() -> None:
    assert active(first(FakeCamera(6), gain=1.35, offset=8)) == set()


@pytest.mark.parametrize("scale", [(1.0, 1.0, 0.45), (0.55, 1.0, 1.0), (1.0, 0.6, 1.0)])
def test_colour_cast_fires_on_a_channel_loss(scale: tuple[float, float, float]) -> None:
    s = FakeCamera(7).sample()
    rgb = np.clip(s.rgb * np.array(scale), 0, 255).astype(np.uint8)
    r = CameraAnalyzer().analyze(FrameSample("c", 0.0, 0.0, s.gray, rgb))
    c = r.condition("color_cast")
    assert c.active and c.value is not None and c.value > 40
    assert "cast" in c.reason


@pytest.mark.parametrize("seed", range(6))
def test_colourful_scenes_are_not_a_cast(seed: int) -> None:
    assert not first(FakeCamera(seed)).condition("color_cast").active


def test_ir_mono_and_missing_rgb_are_not_a_cast() -> None:
    r = first(FakeCamera(8), ir=True)
    assert not r.condition("color_cast").active and "mono" in r.condition("color_cast").reason
    s = FakeCamera(8).sample()
    c = CameraAnalyzer().analyze(FrameSample("c", 0.0, 0.0, s.gray, None)).condition("color_cast")
    assert not c.active and c.value is None


def test_cast_is_judged_against_the_cameras_usual_colour() -> None:
    # A camera that always sees a green lawn: a cast from neutral, but its normal.
    cam = FakeCamera(9)
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=3))

    def lawn() -> FrameSample:
        s = cam.sample()
        rgb = np.clip(s.rgb * np.array([0.55, 1.0, 0.6]), 0, 255).astype(np.uint8)
        return FrameSample("c", s.at, s.pts_s, s.gray, rgb)

    assert an.analyze(lawn()).condition("color_cast").active  # no baseline yet
    for _ in range(4):
        r = an.analyze(lawn())
    assert r.baseline_ready and not r.condition("color_cast").active


def test_chroma_is_independent_of_brightness() -> None:
    s = FakeCamera(10).sample()
    bright = color_stats(s.rgb, None)
    dim = color_stats((s.rgb * 0.3).astype(np.uint8), None)
    assert bright is not None and dim is not None
    assert dim.chroma == pytest.approx(bright.chroma, abs=3.0)
