"""CameraAnalyzer as the pipeline uses it: contract, determinism, privacy masks, bad input."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pytest

from camwatch.analysis import KINDS, AnalysisResult, AnalysisSettings, CameraAnalyzer
from camwatch.analysis.synthetic import Blob, FakeCamera
from camwatch.state import CameraState, FrameSample, Severity


@dataclass(frozen=True, slots=True)
class Region:  # stand-in for camwatch.config.Region
    kind: str
    points: tuple[tuple[float, float], ...]


def rect(x0: float, y0: float, x1: float, y1: float) -> Region:
    return Region("rect", ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def test_every_kind_reported_in_order_with_evidence() -> None:
    cam = FakeCamera(1)
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=3))
    for _ in range(5):
        r = an.analyze(cam.sample())
    assert tuple(c.kind for c in r.conditions) == KINDS
    for c in r.conditions:
        assert not c.active and c.severity is Severity.OK
        assert isinstance(c.value, float) and isinstance(c.threshold, float), c
        assert c.reason
    assert r.active == ()
    with pytest.raises(KeyError):
        r.condition("nope")


def test_metrics_are_plain_values() -> None:
    cam = FakeCamera(2)
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=2))
    for i in range(4):
        r = an.analyze(cam.sample(blobs=[Blob(0.2 + 0.1 * i, 0.6, 0.1)]))
    for name in (
        "motion_level",
        "sharpness",
        "noise_sigma",
        "luma_mean",
        "contrast",
        "clipped",
        "textured",
        "entropy",
    ):
        assert type(getattr(r, name)) is float, name
    assert type(r.sharpness_pct) is float and r.baseline_ready
    assert r.motion_grid.shape == (9, 16) and r.motion_grid.dtype == bool
    assert r.shift is not None and all(type(v) is float for v in r.shift)


def test_deterministic() -> None:
    def run() -> list[AnalysisResult]:
        cam = FakeCamera(3)
        an = CameraAnalyzer(AnalysisSettings(baseline_samples=3))
        faults = [{}, {}, {}, {}, {"blur": 2}, {"shift": (20, 0)}, {"gain": 0.02}, {"ir": True}]
        return [
            an.analyze(cam.sample(blobs=[Blob(0.1 * i, 0.5, 0.1)], **kw))
            for i, kw in enumerate(faults)
        ]

    a, b = run(), run()
    for x, y in zip(a, b, strict=True):
        assert x.conditions == y.conditions
        np.testing.assert_array_equal(x.motion_grid, y.motion_grid)
        assert (x.motion_level, x.sharpness, x.noise_sigma, x.shift) == (
            y.motion_level,
            y.sharpness,
            y.noise_sigma,
            y.shift,
        )


def test_states_holding_results_compare() -> None:
    # CameraState == compares its analysis; an ndarray field must not make it raise.
    cam = FakeCamera(1)
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=3))
    a = an.analyze(cam.sample())
    b = replace(a, motion_grid=~a.motion_grid)
    assert a == b
    base = CameraState("c", "rtsp://h/")
    assert replace(base, analysis=a) == replace(base, analysis=b)
    assert replace(base, analysis=a) != replace(base, analysis=replace(a, noise_sigma=99.0))


def test_results_do_not_share_buffers() -> None:
    cam = FakeCamera(4)
    an = CameraAnalyzer()
    first = an.analyze(cam.sample())
    grid = first.motion_grid.copy()
    for i in range(3):
        an.analyze(cam.sample(blobs=[Blob(0.2 + 0.1 * i, 0.5, 0.2)]))
    np.testing.assert_array_equal(first.motion_grid, grid)


def test_mask_blacks_out_gray_and_rgb_at_any_size() -> None:
    an = CameraAnalyzer(privacy_masks=[rect(0.5, 0.0, 1.0, 0.5)])
    s = FakeCamera(5).sample()
    gray, rgb = an.mask(s.gray), an.mask(s.rgb)
    assert (gray[:90, 160:] == 0).all() and (rgb[:90, 160:] == 0).all()
    np.testing.assert_array_equal(gray[90:], s.gray[90:])
    np.testing.assert_array_equal(rgb[:, :160], s.rgb[:, :160])
    assert s.gray[:90, 160:].any()  # the input is left alone
    thumb = an.mask(np.full((36, 64, 3), 200, np.uint8))
    assert (thumb[:18, 32:] == 0).all() and (thumb[18:] == 200).all()
    plain = CameraAnalyzer()
    assert plain.mask(s.gray) is s.gray


def test_privacy_mask_applies_before_analysis() -> None:
    # Something flashes and moves inside the masked area only.
    mask = rect(0.0, 0.0, 0.5, 1.0)
    cam = FakeCamera(6)
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=3), privacy_masks=[mask])
    for i in range(8):
        s = cam.sample(blobs=[Blob(0.1 + 0.03 * i, 0.5, 0.2, (255.0, 255.0, 255.0))])
        s.gray[:, :160] = 255 * (i % 2)  # and the masked half blinks white/black
        s.rgb[:, :160] = 255 * (i % 2)
        r = an.analyze(s)
    assert r.motion_level == 0.0
    assert not r.motion_grid[:, :8].any()
    # Statistics are of the visible half only: a masked half is not "black" nor "clipped".
    assert r.clipped < 5 and r.luma_mean > 60
    assert r.active == ()


def test_big_privacy_mask_is_not_a_covered_lens() -> None:
    an = CameraAnalyzer(privacy_masks=[rect(0.0, 0.0, 0.8, 1.0)])
    r = an.analyze(FakeCamera(7).sample())
    assert r.active == ()


def test_small_frames_work() -> None:
    cam = FakeCamera(8, width=160, height=90)
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=3))
    for _ in range(4):
        r = an.analyze(cam.sample())
    assert r.active == () and r.baseline_ready
    r = an.analyze(cam.sample(shift=(16, 0)))
    assert r.condition("moved").active


@pytest.mark.parametrize(
    ("gray", "rgb", "message"),
    [
        (np.zeros((180, 320), np.float32), None, "uint8"),
        (np.zeros((180, 320, 3), np.uint8), None, "2-D"),
        ("pixels", None, "2-D"),
        (np.zeros((20, 30), np.uint8), None, "too small"),
        (np.zeros((180, 320), np.uint8), np.zeros((90, 160), np.uint8), "HxWx3"),
        (np.zeros((180, 320), np.uint8), np.zeros((90, 160, 3), np.int16), "uint8"),
    ],
)
def test_bad_frames_are_clear_errors(gray: object, rgb: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CameraAnalyzer().analyze(FrameSample("c", 0.0, 0.0, gray, rgb))


def test_bad_region_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        CameraAnalyzer(privacy_masks=[Region("polygon", ((0.0, 0.0), (1.0, 1.0)))])


def test_cameras_in_parallel_threads_match_sequential_runs() -> None:
    # Work buffers are per thread: two cameras analyzed at once must not mix.
    def sequence(seed: int) -> list[FrameSample]:
        cam = FakeCamera(seed)
        return [cam.sample(blobs=[Blob(0.1 * i, 0.5, 0.15)], blur=2 * (i > 8)) for i in range(12)]

    def run(samples: list[FrameSample]) -> list[tuple]:
        an = CameraAnalyzer(AnalysisSettings(baseline_samples=4))
        return [(r.conditions, r.motion_level, r.sharpness) for r in map(an.analyze, samples)]

    seqs = [sequence(seed) for seed in (1, 2, 3, 4)]
    expected = [run(s) for s in seqs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            assert list(pool.map(run, seqs)) == expected
