"""Skimmed frames against the depacketizer: a pipeline that assembles only the
keyframes it may sample must count every frame, keyframe and loss as one that
assembles them all, and sample the same keyframes. Real sim-encoded H.264 and
H.265 streams, with the faults cameras and networks add."""

from __future__ import annotations

import asyncio
import functools
import random
import struct

import pytest

from camwatch.decode import DecodePool
from camwatch.pipeline import MediaPipeline
from camwatch.rtsp.sdp import MediaTrack
from camwatch.sim.encoder import LoopSpec, encode_loop

Packet = tuple[int, int, bool, bytes, int]  # seq, ts, marker, payload, ssrc


@functools.cache
def stream(codec: str) -> tuple[Packet, ...]:
    """Three GOPs of a 320x180 sim loop, played twice, as RTP packets."""
    spec = LoopSpec(
        codec=codec, width=320, height=180, fps=10.0, gop_frames=10, gops=3,
        bitrate=300_000, scene=2,
    )  # fmt: skip
    units = encode_loop(spec).frames * 2
    out, seq = [], 4000
    for i, unit in enumerate(units):
        last = len(unit.payloads) - 1
        for j, payload in enumerate(unit.payloads):
            out.append((seq & 0xFFFF, i * 9000, j == last, payload, 0xCAFE))
            seq += 1
    return tuple(out)


def lossy(packets: tuple[Packet, ...], ratio: float, seed: int) -> list[Packet]:
    rng = random.Random(seed)
    return [p for p in packets if rng.random() >= ratio]


def variants(codec: str) -> dict[str, list[Packet]]:
    base = stream(codec)
    n = len(base)
    return {
        "clean": list(base),
        "3% loss": lossy(base, 0.03, 1),
        "10% loss": lossy(base, 0.10, 2),
        "bursts": [p for i, p in enumerate(base) if not (n // 4 <= i < n // 4 + 9 or i == n // 2)],
        "no marker bits": [(s, t, False, pl, c) for s, t, _m, pl, c in base],
        "duplicates": [p for p in base for _ in range(2 if p[0] % 7 == 0 else 1)],
        "new ssrc": [
            (s, t, m, pl, c if i < n // 2 else 0xBEEF) for i, (s, t, m, pl, c) in enumerate(base)
        ],
    }


async def play(codec: str, packets: list[Packet], skim: bool, interval: float) -> dict:
    encoding = "H264" if codec == "h264" else "H265"
    track = MediaTrack("video", 96, encoding, 90000, {}, "rtsp://127.0.0.1/cam/", None)
    pool = DecodePool(1)
    sampled: list[float] = []
    pipe = MediaPipeline(
        "cam", track, pool, sample_interval=interval, skim=skim,
        on_sample=lambda s: sampled.append(s.sample.pts_s),
    )  # fmt: skip
    try:
        for seq, ts, marker, payload, ssrc in packets:
            header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | 96, seq, ts, ssrc)
            pipe.on_rtp(header + payload)
            while pool.pending:  # noqa: ASYNC110 - one keyframe at a time: none superseded
                await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)
    finally:
        pool.shutdown()
    st = pipe.stats.snapshot(pipe.last_packet or 0.0)
    decode = pipe.decode_stats()
    return {
        "frames": st.frames,
        "keyframes": st.keyframes,
        "dropped": st.frames_dropped,
        "packets": st.packets_received,
        "lost": st.packets_lost,
        "bytes": st.bytes_received,
        "sampled": sampled,
        "decode_errors": decode.decode_errors,
    }


@pytest.mark.parametrize("codec", ["h264", "h265"])
async def test_skimmed_and_assembled_streams_count_and_sample_alike(codec: str) -> None:
    for name, packets in variants(codec).items():
        for interval in (0.0, 1e9):  # every keyframe sampled; none
            full = await play(codec, packets, skim=False, interval=interval)
            fast = await play(codec, packets, skim=True, interval=interval)
            assert fast == full, (name, interval)
            if interval == 0.0 and name == "clean":
                assert full["keyframes"] == 6 and len(full["sampled"]) == 6
                assert full["frames"] == 60 and full["dropped"] == 0
            if "loss" in name or name == "bursts":
                assert full["dropped"] > 0, name
