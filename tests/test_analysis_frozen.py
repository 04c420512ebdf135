"""Frozen image: samples identical within the noise floor, in most grid cells."""

from __future__ import annotations

import pytest

from camwatch.analysis import AnalysisResult, CameraAnalyzer
from camwatch.analysis.synthetic import Blob, FakeCamera
from camwatch.state import FrameSample


def frozen_flags(results: list[AnalysisResult]) -> list[bool]:
    return [r.condition("frozen").active for r in results]


def test_repeated_picture_is_frozen_from_the_second_sample() -> None:
    cam = FakeCamera(1)
    an = CameraAnalyzer()
    live = [an.analyze(cam.sample()) for _ in range(4)]
    stuck = [an.analyze(cam.sample(frozen=True)) for _ in range(3)]
    assert frozen_flags(live) == [False] * 4
    assert frozen_flags(stuck) == [True] * 3
    c = stuck[-1].condition("frozen")
    assert c.value == pytest.approx(100.0) and c.threshold == 85.0
    assert "frozen for 4 samples" in c.reason


def test_ticking_onscreen_clock_does_not_defeat_it() -> None:
    cam = FakeCamera(2)
    an = CameraAnalyzer()
    for t in range(3):
        an.analyze(cam.sample(clock=t))
    stuck = [an.analyze(cam.sample(frozen=True, clock=10 + t)) for t in range(3)]
    assert frozen_flags(stuck) == [True] * 3


@pytest.mark.parametrize("noise", [0.7, 1.0, 2.0])
def test_static_scene_with_sensor_noise_is_not_frozen(noise: float) -> None:
    cam = FakeCamera(3, noise=noise)
    an = CameraAnalyzer()
    assert not any(frozen_flags([an.analyze(cam.sample()) for _ in range(8)]))


def test_frozen_through_a_light_change_of_the_encoder() -> None:
    # The frozen picture re-encoded a bit brighter is still the same picture.
    cam = FakeCamera(4)
    an = CameraAnalyzer()
    for _ in range(3):
        an.analyze(cam.sample())
    an.analyze(cam.sample(frozen=True))
    r = an.analyze(cam.sample(frozen=True, gain=1.05, offset=3.0))
    assert r.condition("frozen").active


def test_moving_object_unfreezes() -> None:
    cam = FakeCamera(5)
    an = CameraAnalyzer()
    for i in range(6):
        r = an.analyze(cam.sample(noise=0.0, blobs=[Blob(0.1 + 0.15 * i, 0.5, 0.3)]))
    # 85% of the cells would be still, but a third of the frame moving is live video.
    assert not r.condition("frozen").active


def test_same_sample_twice_proves_nothing() -> None:
    cam = FakeCamera(6)
    an = CameraAnalyzer()
    an.analyze(cam.sample())
    s = cam.sample()
    first = an.analyze(s)
    again = an.analyze(FrameSample(s.camera, s.at + 1.0, s.pts_s, s.gray.copy(), s.rgb))
    assert not again.condition("frozen").active
    assert again.condition("frozen") == first.condition("frozen")


def test_black_frames_are_black_not_frozen() -> None:
    cam = FakeCamera(7)
    an = CameraAnalyzer()
    for _ in range(4):
        r = an.analyze(cam.sample(gain=0.0, offset=8.0, noise=0.0))
    assert {c.kind for c in r.active} == {"black"}
    assert "not raised: black" in r.condition("frozen").reason


def test_clean_camera_learns_a_stricter_still_threshold() -> None:
    cam = FakeCamera(8, noise=0.45)
    an = CameraAnalyzer()
    for _ in range(8):
        r = an.analyze(cam.sample())
    assert not r.condition("frozen").active
    floor = an._frozen.floor
    assert floor is not None and floor < 0.3
    assert an._frozen.still_threshold(0.3) == pytest.approx(0.6 * floor)


def _at(s: FrameSample, pts: float) -> FrameSample:
    return FrameSample(s.camera, 1_800_000_000.0 + pts, pts, s.gray, s.rgb)


def test_a_picture_seen_again_after_missed_samples_is_not_frozen() -> None:
    # Sampled every 4 s (a healthy camera); two samples go missing and the next
    # one, 8 s on, shows the very picture of the last (a replayed loop): stale.
    cam = FakeCamera(7)
    an = CameraAnalyzer()
    last = None
    for pts in (0.0, 4.0, 8.0, 12.0):
        last = cam.sample()
        an.analyze(_at(last, pts))
    assert last is not None
    r = an.analyze(_at(last, 20.0))
    assert not r.condition("frozen").active
    assert "after a gap" in r.condition("frozen").reason


def test_a_freeze_on_the_healthy_schedule_is_caught() -> None:
    cam = FakeCamera(8)
    an = CameraAnalyzer()
    for pts in (0.0, 4.0, 8.0):
        an.analyze(_at(cam.sample(), pts))
    stuck = [an.analyze(_at(cam.sample(frozen=True), pts)) for pts in (12.0, 16.0, 22.0)]
    assert frozen_flags(stuck) == [True, True, True]  # one keyframe lost: 6 s is no gap


def test_a_slower_schedule_costs_one_restart() -> None:
    # Every keyframe (2 s), then every other one (4 s) from the first frozen sample.
    cam = FakeCamera(9)
    an = CameraAnalyzer()
    for pts in (0.0, 2.0, 4.0, 6.0):
        an.analyze(_at(cam.sample(), pts))
    stuck = [an.analyze(_at(cam.sample(frozen=True), pts)) for pts in (10.0, 14.0, 18.0)]
    assert frozen_flags(stuck) == [False, True, True]
