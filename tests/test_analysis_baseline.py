"""Baselines: learned from healthy samples, refreshed slowly, persisted, captured on demand."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from camwatch.analysis import AnalysisSettings, Baseline, CameraAnalyzer
from camwatch.analysis.synthetic import FakeCamera


def test_learned_after_n_healthy_samples_only() -> None:
    cam = FakeCamera(1)
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=4))
    for _ in range(3):
        an.analyze(cam.sample(gain=0.02))  # black: teaches nothing
    r = an.analyze(cam.sample())
    assert an.baseline is None and "(0/4" in r.condition("defocus").reason  # none before
    for _ in range(3):
        r = an.analyze(cam.sample())
    b = an.baseline
    assert b is not None and b.samples == 4 and (b.width, b.height) == (320, 180)
    assert b.sharpness is not None and b.sharpness > 0 and b.textured > 80
    assert b.reference.shape == (45, 80) and b.reference.dtype == np.float32
    assert b.created == r_at(cam)  # the wall time of the sample that completed it
    nxt = an.analyze(cam.sample())
    assert nxt.baseline_ready and nxt.sharpness_pct is not None


def r_at(cam: FakeCamera) -> float:
    """Wall time of the camera's latest sample."""
    return 1_800_000_000.0 + (cam.count - 1) * cam.interval


def test_round_trip_through_bytes() -> None:
    cam = FakeCamera(2)
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=3))
    for _ in range(5):
        an.analyze(cam.sample())
    b = an.baseline
    assert b is not None
    c = Baseline.from_bytes(b.to_bytes())
    assert (c.width, c.height, c.samples, c.created) == (b.width, b.height, b.samples, b.created)
    assert c.sharpness == pytest.approx(b.sharpness) and c.textured == pytest.approx(b.textured)
    assert c.noise_floor == pytest.approx(b.noise_floor) and c.chroma == pytest.approx(b.chroma)
    np.testing.assert_array_equal(c.reference, b.reference)
    # A restarted camera uses the stored baseline at once, with the same verdicts.
    fresh = CameraAnalyzer(baseline=c)
    r = fresh.analyze(cam.sample(shift=(24, 0)))
    assert r.baseline_ready and r.condition("moved").active


@pytest.mark.parametrize("data", [b"", b"garbage", b"PK\x03\x04" + b"\x00" * 40])
def test_garbage_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a camwatch baseline"):
        Baseline.from_bytes(data)


def test_wrong_content_is_a_clear_error() -> None:
    buf = io.BytesIO()
    np.savez(
        buf,
        version=np.int64(1),
        size=np.array([320, 180]),
        reference=np.full((45, 80), np.nan, np.float32),
        scalars=np.zeros(8),
    )
    with pytest.raises(ValueError, match="non-finite"):
        Baseline.from_bytes(buf.getvalue())
    buf = io.BytesIO()
    np.savez(buf, version=np.int64(99))
    with pytest.raises(ValueError, match="format 99"):
        Baseline.from_bytes(buf.getvalue())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("other.txt", "x")
    with pytest.raises(ValueError, match="not a camwatch baseline"):
        Baseline.from_bytes(buf.getvalue())


def test_capture_on_demand_replaces_the_reference() -> None:
    cam = FakeCamera(3)
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=3))
    with pytest.raises(RuntimeError, match="no frame analyzed"):
        an.capture_baseline()
    for _ in range(4):
        an.analyze(cam.sample())
    assert an.analyze(cam.sample(shift=(24, 0))).condition("moved").active
    # The installer re-aims the camera and captures the new view as the reference.
    for _ in range(3):
        an.analyze(cam.sample(shift=(24, 0)))
    b = an.capture_baseline()
    assert an.baseline is b
    r = an.analyze(cam.sample(shift=(24, 0)))
    assert r.baseline_ready and not r.condition("moved").active


def test_refresh_follows_slow_drift_while_healthy() -> None:
    cam = FakeCamera(4)
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=3, baseline_alpha=0.2))
    for _ in range(3):
        an.analyze(cam.sample())
    first = an.baseline
    assert first is not None
    for _ in range(16):
        an.analyze(cam.sample(gain=0.8))
    later = an.baseline
    assert later is not first and later is not None
    assert later.luma < first.luma - 5
    assert later.created == first.created and later.samples == first.samples


def test_no_refresh_while_a_fault_is_active() -> None:
    cam = FakeCamera(5)
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=3, baseline_alpha=0.5))
    for _ in range(3):
        an.analyze(cam.sample())
    first = an.baseline
    for _ in range(20):
        r = an.analyze(cam.sample(shift=(30, 0)))
        assert r.condition("moved").active
    assert an.baseline is first


def test_baseline_of_another_size_is_relearned() -> None:
    cam = FakeCamera(6)
    an = CameraAnalyzer(AnalysisSettings(baseline_samples=3))
    for _ in range(4):
        an.analyze(cam.sample())
    small = FakeCamera(6, width=160, height=90)
    r = an.analyze(small.sample())
    assert an.baseline is None and not r.baseline_ready
    for _ in range(3):
        r = an.analyze(small.sample())
    assert an.baseline is not None and an.baseline.width == 160
