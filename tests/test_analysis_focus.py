"""Focus: noise-corrected, contrast-normalized sharpness against the baseline."""

from __future__ import annotations

import pytest

from camwatch.analysis import AnalysisResult, AnalysisSettings, CameraAnalyzer
from camwatch.analysis.synthetic import FakeCamera


def learned(cam: FakeCamera, **kw: object) -> CameraAnalyzer:
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=5))
    for _ in range(6):
        an.analyze(cam.sample(**kw))
    assert an.baseline is not None
    return an


def after(an: CameraAnalyzer, cam: FakeCamera, n: int = 3, **kw: object) -> AnalysisResult:
    for _ in range(n):
        r = an.analyze(cam.sample(**kw))
    return r


def test_no_defocus_verdict_before_the_baseline() -> None:
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=5))
    r = an.analyze(FakeCamera(1).sample(blur=3))
    c = r.condition("defocus")
    assert not c.active and c.value is None and "learning baseline (0/5" in c.reason
    assert r.sharpness_pct is None and not r.baseline_ready


@pytest.mark.parametrize("seed", [1, 2, 4])
@pytest.mark.parametrize("blur", [1, 2, 4])
def test_blur_is_defocus(seed: int, blur: int) -> None:
    cam = FakeCamera(seed, busy=seed == 2)
    an = learned(cam)
    c = after(an, cam, blur=blur).condition("defocus")
    assert c.active and c.value is not None and c.value < 50 and "defocus" in c.reason


def test_sharp_onscreen_clock_does_not_hide_a_blurred_lens() -> None:
    cam = FakeCamera(3)
    an = learned(cam, clock=0)
    r = None
    for t in range(3):
        # The clock is burnt in after the lens: only the scene blurs.
        s = cam.sample(blur=1)
        sharp_clock = cam.sample(frozen=True, clock=t + 1)
        s.gray[:20, :120] = sharp_clock.gray[:20, :120]
        r = an.analyze(s)
    assert r is not None and r.condition("defocus").active


@pytest.mark.parametrize(
    "kw",
    [{"gain": 1.35, "offset": 8.0}, {"gain": 0.6}, {"ir": True}, {"noise": 4.0},
     {"ir": True, "gain": 0.7, "noise": 3.0}, {"clock": 5}],
)  # fmt: skip
def test_light_ir_and_noise_are_not_defocus(kw: dict[str, object]) -> None:
    cam = FakeCamera(5)
    an = learned(cam)
    r = after(an, cam, **kw)
    assert not r.condition("defocus").active
    assert r.sharpness_pct is not None and 70 < r.sharpness_pct < 140


def test_score_is_smoothed_over_three_samples() -> None:
    cam = FakeCamera(6)
    an = learned(cam)
    one = an.analyze(cam.sample(blur=2))
    assert not one.condition("defocus").active  # one blurred sample: median still sharp
    two = an.analyze(cam.sample(blur=2))
    assert two.condition("defocus").active
