"""Noise: block-wise Immerkaer low percentile, confirmed over time."""

from __future__ import annotations

import pytest

from camwatch.analysis import AnalysisResult, CameraAnalyzer
from camwatch.analysis.synthetic import FakeCamera


def run(cam: FakeCamera, n: int, **kw: object) -> list[AnalysisResult]:
    an = CameraAnalyzer()
    return [an.analyze(cam.sample(**kw)) for _ in range(n)]


@pytest.mark.parametrize(
    ("true", "low", "high"), [(0.5, 0.0, 1.5), (2.0, 1.5, 3.0), (4.0, 3.3, 4.8), (8.0, 7.0, 9.0)]
)
def test_estimate_tracks_true_sigma(true: float, low: float, high: float) -> None:
    r = run(FakeCamera(1, noise=true), 3)[-1]
    assert low <= r.noise_sigma <= high
    c = r.condition("noise")
    assert c.value == pytest.approx(r.noise_sigma)
    assert c.active == (r.noise_sigma > 5.0)


def test_snow_is_noise_from_the_third_sample() -> None:
    first, second, third = run(FakeCamera(2, noise=25.0), 3)
    # Texture is still and noise is not, but a single change could be a camera move.
    assert not first.condition("noise").active and not second.condition("noise").active
    assert "more samples" in first.condition("noise").reason
    c = third.condition("noise")
    assert c.active and c.value is not None and c.value > 15 and "noisy" in c.reason


@pytest.mark.parametrize("seed", [2, 5, 8])
def test_busy_texture_is_not_noise_even_through_light_changes(seed: int) -> None:
    cam = FakeCamera(seed, busy=True)
    an = CameraAnalyzer()
    first = an.analyze(cam.sample())
    spatial = first.condition("noise").value
    assert spatial is not None and spatial > 5.0  # alone, the texture reads as noise
    for kw in ({}, {}, {"gain": 1.35, "offset": 8.0}, {"gain": 0.6}, {"ir": True}, {}):
        r = an.analyze(cam.sample(**kw))
        assert not r.condition("noise").active, r.condition("noise").reason


def test_blown_out_sky_does_not_hide_noise() -> None:
    # The top 40% clipped white reads zero noise: those cells must be skipped,
    # else the low percentile would land in them.
    cam = FakeCamera(3, noise=4.0)
    an = CameraAnalyzer()
    for _ in range(3):
        s = cam.sample()
        s.gray[:72] = 255
        r = an.analyze(s)
    assert r.clipped > 35
    assert 3.3 < r.noise_sigma < 4.8
