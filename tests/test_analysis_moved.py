"""Camera moved: structure match against the reference, with the shift estimated."""

from __future__ import annotations

import pytest

from camwatch.analysis import AnalysisResult, AnalysisSettings, CameraAnalyzer
from camwatch.analysis.synthetic import Blob, FakeCamera


def learned(cam: FakeCamera) -> CameraAnalyzer:
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=5))
    for i in range(6):
        an.analyze(cam.sample(blobs=[Blob(0.1 + 0.15 * i, 0.75, 0.08)]))
    assert an.baseline is not None
    return an


def moved_after(cam: FakeCamera, **kw: object) -> AnalysisResult:
    return learned(cam).analyze(cam.sample(**kw))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    ("shift", "expected"),
    [((16, 0), (-16, 0)), ((-24, 8), (24, -8)), ((0, 16), (0, -16)), ((40, 20), (-40, -20))],
)
def test_shifted_view_is_moved_with_its_shift(
    seed: int, shift: tuple[int, int], expected: tuple[int, int]
) -> None:
    r = moved_after(FakeCamera(seed, busy=seed == 2), shift=shift)
    c = r.condition("moved")
    assert c.active and c.value is not None and c.value < 60
    assert r.shift is not None
    assert r.shift[0] == pytest.approx(expected[0], abs=4)
    assert r.shift[1] == pytest.approx(expected[1], abs=4)
    assert "shifted by" in c.reason


def test_pointed_at_another_scene_is_moved_without_a_shift() -> None:
    cam = FakeCamera(4)
    an = learned(cam)
    other = FakeCamera(9)
    c = an.analyze(other.sample()).condition("moved")
    assert c.active and "no matching shift" in c.reason


@pytest.mark.parametrize(
    "kw",
    [{"gain": 1.35, "offset": 8.0}, {"gain": 0.5}, {"ir": True}, {"ir": True, "gain": 0.6,
     "noise": 3.0}, {"shift": (4, 4)}, {"noise": 6.0}, {"blur": 1}, {"clock": 3}],
)  # fmt: skip
@pytest.mark.parametrize("seed", [1, 2, 5])
def test_light_ir_vibration_noise_are_not_moved(kw: dict[str, object], seed: int) -> None:
    r = moved_after(FakeCamera(seed, busy=seed == 2), **kw)
    c = r.condition("moved")
    assert not c.active, c.reason
    assert r.shift is not None and max(abs(r.shift[0]), abs(r.shift[1])) <= 4


def test_large_object_in_front_is_not_a_move() -> None:
    # A truck parks across a third of the view: the rest is where it was.
    truck = [Blob(0.5, 0.7, 0.38, (90.0, 90.0, 100.0))]
    for seed in (1, 2, 3, 6):
        c = moved_after(FakeCamera(seed), blobs=truck).condition("moved")
        assert not c.active, c.reason


def test_no_reference_no_verdict() -> None:
    r = CameraAnalyzer().analyze(FakeCamera(1).sample(shift=(30, 0)))
    c = r.condition("moved")
    assert not c.active and c.value is None and "learning baseline" in c.reason
    assert r.shift is None and r.scene_match is None
