"""Per-packet CPU cost of parse_rtp + depacketizing, on synthetic streams.

Prints microseconds per packet (best of several runs) for a 1080p-like and a
360p-like camera stream, H.264 and H.265, built from handcrafted RTP packets:
SPS/PPS(/VPS) + SEI as single NAL packets, slices as FU-A/FU fragments of a
1400-byte payload, small pictures as single NAL packets.

    python bench/bench_depacketize.py [--seconds 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from camwatch.rtp import H264Depacketizer, H265Depacketizer, parse_rtp

MTU_PAYLOAD = 1400


@dataclass(frozen=True)
class Profile:
    name: str
    codec: str
    fps: int
    gop: int  # pictures per keyframe interval
    key_bytes: int
    inter_bytes: int


PROFILES = [
    Profile("1080p H.264 ~4 Mbit/s", "h264", 25, 50, 120_000, 18_000),
    Profile("360p  H.264 ~0.6 Mbit/s", "h264", 20, 40, 18_000, 2_800),
    Profile("360p  H.264 small P (single NAL)", "h264", 15, 30, 9_000, 1_100),
    Profile("1080p H.265 ~2.5 Mbit/s", "h265", 25, 50, 80_000, 11_000),
]


def body(rng: random.Random, size: int) -> bytes:
    # Non-zero bytes: real slice data never contains a start code either.
    return bytes(rng.randrange(1, 256) for _ in range(min(size, 4096))) * (size // 4096 + 1)


def h264_units(rng: random.Random, key: bool, size: int) -> list[bytes]:
    data = body(rng, size)[:size]
    if key:
        return [
            bytes.fromhex("674d002a95a81e0089f966e020202040"),
            bytes.fromhex("68ee3c80"),
            b"\x06\x05\x10" + data[:16] + b"\x80",
            b"\x65\x88" + data,
        ]
    return [b"\x41\x9a" + data]


def h265_units(rng: random.Random, key: bool, size: int) -> list[bytes]:
    data = body(rng, size)[:size]
    if key:
        return [
            bytes.fromhex("40010c01ffff016000000300000300000300000300962c09"),
            bytes.fromhex("420101016000000300000300000300000300960a0010202a1fe2ab4ee892ee6808"),
            bytes.fromhex("4401c072f01b24"),
            b"\x26\x01\xaf" + data,
        ]
    return [b"\x02\x01\xd0" + data]


def h264_payloads(nal: bytes) -> list[bytes]:
    if len(nal) <= MTU_PAYLOAD:
        return [nal]
    indicator, kind, rest = (nal[0] & 0xE0) | 28, nal[0] & 0x1F, nal[1:]
    chunks = [rest[i : i + MTU_PAYLOAD - 2] for i in range(0, len(rest), MTU_PAYLOAD - 2)]
    last = len(chunks) - 1
    return [
        bytes([indicator, kind | (0x80 if i == 0 else 0) | (0x40 if i == last else 0)]) + c
        for i, c in enumerate(chunks)
    ]


def h265_payloads(nal: bytes) -> list[bytes]:
    if len(nal) <= MTU_PAYLOAD:
        return [nal]
    head, kind, rest = bytes([(nal[0] & 0x81) | (49 << 1), nal[1]]), (nal[0] >> 1) & 0x3F, nal[2:]
    chunks = [rest[i : i + MTU_PAYLOAD - 3] for i in range(0, len(rest), MTU_PAYLOAD - 3)]
    last = len(chunks) - 1
    return [
        head + bytes([kind | (0x80 if i == 0 else 0) | (0x40 if i == last else 0)]) + c
        for i, c in enumerate(chunks)
    ]


def build(profile: Profile, seconds: float) -> list[bytes]:
    rng = random.Random(1)
    units, payloads = (
        (h264_units, h264_payloads) if profile.codec == "h264" else (h265_units, h265_payloads)
    )
    packets: list[bytes] = []
    seq = 60000  # wraps during the run
    for i in range(int(seconds * profile.fps)):
        key = i % profile.gop == 0
        size = profile.key_bytes if key else int(profile.inter_bytes * rng.uniform(0.7, 1.3))
        parts = [p for nal in units(rng, key, size) for p in payloads(nal)]
        ts = (i * 90000 // profile.fps) & 0xFFFFFFFF
        for j, payload in enumerate(parts):
            marker = 0x80 if j == len(parts) - 1 else 0
            head = struct.pack("!BBHII", 0x80, marker | 96, seq, ts, 0x5EED)
            packets.append(head + payload)
            seq = (seq + 1) & 0xFFFF
    return packets


def best_of(runs: int, fn: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(profile: Profile, seconds: float, runs: int) -> None:
    packets = build(profile, seconds)
    depacketizer_cls = H264Depacketizer if profile.codec == "h264" else H265Depacketizer
    units = 0

    def parse_only() -> None:
        for data in packets:
            parse_rtp(data)

    def full() -> None:
        nonlocal units
        d = depacketizer_cls()
        push = d.push
        n = 0
        for data in packets:
            n += len(push(parse_rtp(data)))
        units = n
        assert d.units_dropped == 0 and d.packets_discarded == 0, "synthetic stream is clean"

    parse_s = best_of(runs, parse_only)
    full_s = best_of(runs, full)
    per_packet = full_s / len(packets) * 1e6
    pps = len(packets) / seconds
    print(
        f"{profile.name:34s} {len(packets) / seconds:6.0f} pkt/s  "
        f"{sum(map(len, packets)) / len(packets):5.0f} B/pkt  "
        f"parse_rtp {parse_s / len(packets) * 1e6:5.2f} us  "
        f"parse+depacketize {per_packet:5.2f} us/pkt  "
        f"({units / seconds:.0f} AU/s; "
        f"this work alone: {1e6 / (per_packet * pps):.0f} cameras/core)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="stream length per profile")
    parser.add_argument("--runs", type=int, default=5, help="repetitions; the best is reported")
    args = parser.parse_args()
    for profile in PROFILES:
        measure(profile, args.seconds, args.runs)


if __name__ == "__main__":
    main()
