"""Ingest benchmark: CPU per RTP packet on the receive path, and per keyframe decode.

    python bench/bench_ingest.py [--seconds 10]

1. decode: one IDR access unit decoded (skip_frame=NONKEY, slice threads) and
   scaled to 320-px gray + 160-px RGB, at 360p and 1080p;
2. pipeline: MediaPipeline.on_rtp per packet (RTP parse, statistics,
   depacketizer), no sockets, no decode;
3. sockets: the whole receive path over loopback TCP and UDP against the
   simulator run in another process (CPU of this process only), with keyframe
   sampling off and then at the default 1/s.
Prints a table; figures vary by ±10% between runs on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from fractions import Fraction

import av
import numpy as np

from camwatch.bus import LocalBus
from camwatch.camera import CameraMonitor, CameraTarget, MonitorSettings
from camwatch.decode import DecodePool, KeyframeDecoder
from camwatch.pipeline import MediaPipeline
from camwatch.rtp.nal import split_annexb
from camwatch.rtp.packetize import packetize_h264, rtp_header
from camwatch.rtsp.sdp import MediaTrack


def encode(width: int, height: int, frames: int = 60, fps: int = 15) -> list[tuple[bytes, bool]]:
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, fps)
    codec.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(fps * 2), "crf": "28"}
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
    base = np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))
    out: list[tuple[bytes, bool]] = []
    for i in range(frames):
        img = np.roll(base, i * 4, axis=1)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        out += [(bytes(p), p.is_keyframe) for p in codec.encode(frame)]
    out += [(bytes(p), p.is_keyframe) for p in codec.encode(None)]
    return out


def bench_decode(width: int, height: int, repeat: int = 40) -> float:
    idr = next(data for data, key in encode(width, height, 4) if key)
    dec = KeyframeDecoder("h264")
    dec.decode(idr)
    t0 = time.perf_counter()
    for _ in range(repeat):
        dec.decode(idr)
    return (time.perf_counter() - t0) / repeat * 1000


def rtp_packets(units: list[tuple[bytes, bool]], fps: int = 15) -> list[bytes]:
    packets, seq = [], 0
    for i, (data, _key) in enumerate(units):
        payloads = packetize_h264(split_annexb(data))
        for j, payload in enumerate(payloads):
            header = rtp_header(96, seq & 0xFFFF, i * 90000 // fps, 0x1234, j == len(payloads) - 1)
            packets.append(header + payload)
            seq += 1
    return packets


def bench_pipeline(width: int, height: int) -> tuple[float, int]:
    packets = rtp_packets(encode(width, height, 60))
    track = MediaTrack("video", 96, "H264", 90000, {}, "rtsp://x/", None)
    pool = DecodePool(1, max_pending=0)  # no decode: the per-packet path alone
    pipe = MediaPipeline("bench", track, pool, sample_interval=1e9)
    t0 = time.process_time()
    loops = 0
    while time.process_time() - t0 < 1.0:
        for pkt in packets:
            pipe.on_rtp(pkt)
        loops += 1
    per = (time.process_time() - t0) / (loops * len(packets)) * 1e6
    pool.shutdown()
    return per, len(packets) // 60


async def bench_socket(
    url: str, transport: str, seconds: float, sample: float
) -> tuple[float, float, int, int]:
    bus, pool = LocalBus(), DecodePool(1)
    settings = MonitorSettings(sample_interval=sample, retry=False)
    mon = CameraMonitor(CameraTarget("b", url, url, transport=transport), bus, pool, settings)
    task = asyncio.create_task(mon.run())
    await asyncio.sleep(1.0)  # connect and warm up
    mon.refresh()
    p0, c0 = mon.state.stats.packets_received, time.process_time()
    await asyncio.sleep(seconds)
    mon.refresh()
    p1, c1 = mon.state.stats.packets_received, time.process_time()
    mon.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    pool.shutdown()
    packets = p1 - p0
    cpu = c1 - c0
    return (
        cpu / max(1, packets) * 1e6,
        cpu / seconds * 100,
        packets,
        mon.state.decode.keyframes_decoded,
    )


def start_sim(size: str, fps: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "camwatch",
            "sim",
            "--cameras",
            "1",
            "--port",
            "0",
            "--size",
            size,
            "--fps",
            str(fps),
            "--bitrate",
            "4000k" if size == "1920x1080" else "500k",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    print("keyframe decode + scale (1 thread):")
    for w, h in ((640, 360), (1920, 1080)):
        print(f"  {w}x{h}: {bench_decode(w, h):6.2f} ms per keyframe")
    print("per-packet pipeline, no sockets (parse + stats + depacketize):")
    for w, h in ((640, 360), (1920, 1080)):
        per, ppf = bench_pipeline(w, h)
        print(f"  {w}x{h}: {per:6.2f} us per packet (~{ppf} packets/frame)")
    print(f"whole receive path over loopback, {args.seconds:g} s each (CPU of this process):")
    for size, fps in (("640x360", 15), ("1920x1080", 25)):
        proc, url = start_sim(size, fps)
        try:
            for transport in ("tcp", "udp"):
                for sample in (1e9, 1.0):
                    per, pct, n, k = asyncio.run(bench_socket(url, transport, args.seconds, sample))
                    mode = "no decode" if sample > 1e6 else "1 kf/s   "
                    print(
                        f"  {size:>9} {transport} {mode}: {per:6.1f} us/packet, "
                        f"{pct:5.2f}% of a core ({n} packets, {k} keyframes decoded)"
                    )
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
