"""The analyzers on real encoded keyframes (libx264 via PyAV, as the simulator serves
them and the pipeline decodes them: 640x360 at ~500 kbit/s, keyframes scaled to
320x180 gray by the decoder). Compression is what makes a static live scene and a
frozen one hard to tell apart: a bitrate-capped encoder keeps re-quantizing the
frozen picture slightly differently, and smooths away part of the noise."""

from __future__ import annotations

import io

import numpy as np
import pytest

from camwatch.analysis import AnalysisResult, CameraAnalyzer
from camwatch.analysis.synthetic import make_world, render
from camwatch.state import FrameSample

av = pytest.importorskip("av")

GOP = 10
W, H = 640, 360


def encode_keyframes(frames: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    buf = io.BytesIO()
    with av.open(buf, "w", format="h264") as out:
        st = out.add_stream("libx264", rate=15)
        st.width, st.height, st.pix_fmt = W, H, "yuv420p"
        st.bit_rate, st.gop_size = 500_000, GOP
        st.options = {"keyint": str(GOP), "min-keyint": str(GOP), "scenecut": "0",
                      "preset": "ultrafast", "tune": "zerolatency"}  # fmt: skip
        for f in frames:
            for p in st.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    buf.seek(0)
    keys = []
    with av.open(buf, "r", format="h264") as inp:
        for fr in inp.decode(video=0):
            if fr.key_frame:
                gray = fr.reformat(320, 180, format="gray", interpolation="AREA").to_ndarray()
                rgb = fr.reformat(160, 90, format="rgb24", interpolation="AREA").to_ndarray()
                keys.append((gray, rgb))
    return keys


def clip(n_live: int, n_fault: int, fault: str, noise: float = 1.0) -> list[np.ndarray]:
    world = make_world(11, W, H, margin=64)
    base = render(world, width=W, height=H)[1].astype(np.float32)
    rng = np.random.default_rng(5)
    frames = []
    for i in range((n_live + n_fault) * GOP):
        faulty = i >= n_live * GOP
        if faulty and fault == "frozen":
            img = frames[n_live * GOP - 1].astype(np.float32)
        else:
            sigma = 25.0 if faulty and fault == "noise" else noise
            img = base + rng.normal(0.0, sigma, (H, W, 1)).astype(np.float32)
        # An OSD clock that keeps ticking, frozen picture or not.
        clock = render(world, width=W, height=H, clock=i // 15)[1][:30, :300]
        img[:30, :300] = clock
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def analyze(keys: list[tuple[np.ndarray, np.ndarray]]) -> list[AnalysisResult]:
    an = CameraAnalyzer()
    return [
        an.analyze(FrameSample("c", 2.0 * i, 2.0 * i, g, rgb)) for i, (g, rgb) in enumerate(keys)
    ]


def test_frozen_source_detected_and_static_live_scene_not() -> None:
    keys = encode_keyframes(clip(12, 8, "frozen"))
    flags = [r.condition("frozen").active for r in analyze(keys)]
    live, frozen = flags[:12], flags[12:]
    assert not any(live)
    # Re-quantized by the encoder, the frozen picture settles within a few keyframes
    # (well within 15 s at a keyframe every 2 s), then stays frozen.
    first = frozen.index(True)
    assert first <= 4 and all(frozen[first:])


def test_snow_through_the_encoder_is_noise_and_clean_video_is_not() -> None:
    results = analyze(encode_keyframes(clip(8, 5, "noise")))
    assert not any(r.condition("noise").active for r in results[:8])
    assert all(r.noise_sigma < 3.0 for r in results[2:8])
    assert all(r.condition("noise").active for r in results[10:])
