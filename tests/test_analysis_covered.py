"""Covered lens / flat image: absolute from the first frame, relative with a baseline."""

from __future__ import annotations

import numpy as np
import pytest

from camwatch.analysis import AnalysisSettings, CameraAnalyzer
from camwatch.analysis.synthetic import FakeCamera, box_blur
from camwatch.state import FrameSample


def learned(cam: FakeCamera) -> CameraAnalyzer:
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=5))
    for _ in range(6):
        an.analyze(cam.sample())
    assert an.baseline is not None
    return an


@pytest.mark.parametrize(("level", "noise"), [(70.0, 1.5), (30.0, 3.0), (180.0, 2.0)])
def test_flat_image_is_covered_from_the_first_sample(level: float, noise: float) -> None:
    cam = FakeCamera(1)
    r = CameraAnalyzer().analyze(cam.sample(gain=0.0, offset=level, noise=noise))
    c = r.condition("covered")
    assert c.active and c.value is not None and c.value < 10
    assert "covered" in c.reason
    # Covered explains the flatness: no low-contrast or low-light alarm on top.
    assert {x.kind for x in r.active} == {"covered"}


def test_hand_over_the_lens_with_a_light_leak_is_covered() -> None:
    # Dark, featureless, with a smooth brightness gradient across the frame.
    yy, xx = np.mgrid[0:180, 0:320].astype(np.float32)
    rng = np.random.default_rng(3)
    img = 25 + 30 * xx / 320 + 10 * yy / 180 + rng.normal(0, 2.0, (180, 320))
    gray = np.clip(img, 0, 255).astype(np.uint8)
    r = CameraAnalyzer().analyze(FrameSample("c", 0.0, 0.0, gray, None))
    assert r.condition("covered").active


@pytest.mark.parametrize("seed", [1, 3, 4, 6])
def test_dark_night_scene_with_texture_is_not_covered(seed: int) -> None:
    cam = FakeCamera(seed)
    an = learned(cam)
    for _ in range(3):
        r = an.analyze(cam.sample(gain=0.15, noise=3.0))
    assert not r.condition("covered").active, r.condition("covered").reason
    assert r.condition("covered").value is not None


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_spray_that_lets_blurred_light_through_is_covered(seed: int) -> None:
    cam = FakeCamera(seed, busy=seed == 2)
    an = learned(cam)
    r = an.analyze(cam.sample(blur=40, gain=0.5))
    c = r.condition("covered")
    assert c.active and "sprayed" in c.reason
    # Not also reported as defocus or moved: covered explains both.
    assert {x.kind for x in r.active} == {"covered"}


def test_blank_wall_camera_learns_its_flatness() -> None:
    # A camera that watches a plain wall: flat by nature, relative check only.
    cam = FakeCamera(7)
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=4))

    def wall() -> FrameSample:
        s = cam.sample(noise=0.0)
        g = (box_blur(s.gray.astype(np.float32), 12) - 128) * 0.1 + 90
        g += np.random.default_rng(cam.count).normal(0, 1.5, g.shape)
        return FrameSample("c", s.at, s.pts_s, np.clip(g, 0, 255).astype(np.uint8), None)

    first = an.analyze(wall())
    flat = first.condition("covered").value
    assert flat is not None and flat < 10  # absolute: it looks covered
    an.baseline = an.capture_baseline()  # the installer confirms this view
    r = an.analyze(wall())
    assert r.baseline_ready and not r.condition("covered").active
