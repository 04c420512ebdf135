"""The sampler's adaptive schedule: a real pipeline, decode pool and analyzer
fed the simulator's own H.264 keyframes over RTP (no sockets, real time)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import struct

from camwatch.config import camera_from_url
from camwatch.decode import DecodePool
from camwatch.fleethealth import nominal_interval
from camwatch.imaging import AnalysisHook
from camwatch.pipeline import CLEAN_SAMPLES, MediaPipeline, Sampled
from camwatch.rtsp.sdp import MediaTrack
from camwatch.sim.encoder import LoopSpec, encode_loop

T = 0.1  # seconds between two keyframes: the GOP, compressed
BASE, HEALTHY = T, 3.5 * T  # every keyframe; every third or fourth
TRACK = MediaTrack("video", 96, "H264", 90000, {}, "rtsp://127.0.0.1/cam/", None)


@functools.cache
def keyframes(look: str = "normal", params: tuple[tuple[str, float], ...] = ()) -> list[tuple]:
    """The RTP payloads of each keyframe of a 320x180 sim loop (SPS/PPS in band)."""
    spec = LoopSpec(
        codec="h264", width=320, height=180, fps=10.0, gop_frames=5, gops=4,
        bitrate=300_000, scene=1,
    ).with_look(look, params)  # fmt: skip
    return [unit.payloads for unit in encode_loop(spec).frames if unit.keyframe]


class Camera:
    """Feeds one pipeline keyframes every T seconds and records what it sampled."""

    def __init__(self, analysis: bool = True, baseline_samples: float = 3.0) -> None:
        cfg = dataclasses.replace(
            camera_from_url("rtsp://127.0.0.1/cam", name="cam"),
            thresholds={"baseline_samples": baseline_samples},
        )
        self.pool = DecodePool(1)
        self.results: list[object] = []
        self.pipe = MediaPipeline(
            "cam", TRACK, self.pool, sample_interval=BASE, healthy_sample_interval=HEALTHY,
            frame_hook=AnalysisHook(cfg) if analysis else None, on_sample=self._sampled,
        )  # fmt: skip
        self.seq = self.k = 0

    def _sampled(self, sampled: Sampled) -> None:
        self.results.append(sampled.analysis)

    async def feed(self, count: int, look: str = "normal", params: tuple = ()) -> int:
        """Send `count` keyframes of a look; returns how many were sampled."""
        before = len(self.results)
        frames = keyframes(look, params)
        for _ in range(count):
            payloads = frames[self.k % len(frames)]
            ts = self.k * 90000  # a 1 s GOP in RTP time
            for j, payload in enumerate(payloads):
                marker = 0x80 if j == len(payloads) - 1 else 0
                head = struct.pack("!BBHII", 0x80, marker | 96, self.seq & 0xFFFF, ts, 0x5EED)
                self.pipe.on_rtp(head + payload)
                self.seq += 1
            self.k += 1
            for _ in range(500):  # the decode finishes well within the GOP
                if not self.pool.pending:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(T)
        return len(self.results) - before

    def close(self) -> None:
        self.pool.shutdown()


async def test_a_healthy_picture_is_sampled_less_often_and_a_fault_restores_every_keyframe():
    cam = Camera()
    try:
        # Learning the baseline (3 samples) and then a few clean samples: every keyframe.
        assert await cam.feed(3) == 3
        assert cam.pipe.sample_interval == BASE
        await cam.feed(3 + CLEAN_SAMPLES)
        assert cam.pipe.sample_interval == HEALTHY
        assert all(r.baseline_ready and not r.active for r in cam.results[-CLEAN_SAMPLES:])
        # The fleet's schedule follows: every fourth keyframe is on time, not starved.
        assert abs(nominal_interval(cam.pipe.sample_interval, T) - 4 * T) < 1e-9
        assert await cam.feed(9) <= 4  # every third or fourth keyframe
        # A black picture: the first black sample puts the camera back on every keyframe.
        for _ in range(6):
            await cam.feed(1, "black")
            if cam.results[-1].active:
                break
        assert [c.kind for c in cam.results[-1].active] == ["black"]
        assert cam.pipe.sample_interval == BASE
        assert abs(nominal_interval(cam.pipe.sample_interval, T) - T) < 1e-9
        assert await cam.feed(4, "black") == 4
        # Healthy again: back to the long interval after CLEAN_SAMPLES clean samples.
        assert await cam.feed(CLEAN_SAMPLES + 1) == CLEAN_SAMPLES + 1
        assert cam.pipe.sample_interval == HEALTHY
    finally:
        cam.close()


async def test_a_sharpness_drop_is_confirmed_at_the_full_rate():
    cam = Camera()
    try:
        await cam.feed(6 + CLEAN_SAMPLES)
        assert cam.pipe.sample_interval == HEALTHY
        defocus = ("defocus", (("strength", 3.0),))
        sampled = 0
        for _ in range(6):  # until the first defocused keyframe is sampled
            sampled = await cam.feed(1, *defocus)
            if sampled:
                break
        assert sampled == 1
        first = cam.results[-1]
        # One soft sample does not confirm defocus (the check takes a median of
        # three), but the jump alone brings back every keyframe.
        assert not first.condition("defocus").active
        assert cam.pipe.sample_interval == BASE
        assert await cam.feed(2, *defocus) == 2
        assert cam.results[-1].condition("defocus").active
    finally:
        cam.close()


async def test_without_an_analyzer_every_keyframe_is_sampled():
    cam = Camera(analysis=False)
    try:
        assert await cam.feed(8) == 8
        assert cam.pipe.sample_interval == BASE
    finally:
        cam.close()
