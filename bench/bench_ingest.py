"""Ingest benchmark: CPU per RTP packet on the receive path, and per keyframe decode.

    python bench/bench_ingest.py [--seconds 10]

1. decode: one IDR access unit decoded (skip_frame=NONKEY, slice threads) and
   scaled to 320-px gray + 160-px RGB, at 360p and 1080p;
2. pipeline: MediaPipeline.on_rtp per packet (RTP parse, statistics, and the
   depacketizer or, for frames not sampled, the skimmer), no sockets, no decode;
3. sockets: the whole receive path over loopback TCP and UDP against the
   simulator run in another process (CPU of this process only), with keyframe
   sampling off and then at the default 1/s;
4. options: the decoder's speed options (no deblocking, FLAG2_FAST) on the
   simulator's own 360p keyframes (four scene styles, sharp and defocused):
   decode + scale time, and the analysis figures they change (sharpness is
   the sensitive one; a constant ratio is harmless, as baselines are per camera).

    python bench/bench_ingest.py --section options
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

from camwatch.analysis import CameraAnalyzer
from camwatch.bus import LocalBus
from camwatch.camera import CameraMonitor, CameraTarget, MonitorSettings
from camwatch.decode import DecodePool, KeyframeDecoder
from camwatch.pipeline import MediaPipeline
from camwatch.rtp.h264 import H264Depacketizer
from camwatch.rtp.nal import split_annexb
from camwatch.rtp.packet import parse_rtp
from camwatch.rtp.packetize import packetize_h264, rtp_header
from camwatch.rtsp.sdp import MediaTrack
from camwatch.sim.encoder import LoopSpec, encode_loop
from camwatch.sim.scene import STYLE_NOISE, STYLES
from camwatch.state import FrameSample

DECODER_VARIANTS = {
    "default": {},
    "skip_loop_filter": {"skip_loop_filter": True},
    "flags2 fast": {"fast": True},
    "both": {"skip_loop_filter": True, "fast": True},
}


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


def bench_pipeline(width: int, height: int, skim: bool = True) -> tuple[float, int]:
    packets = rtp_packets(encode(width, height, 60))
    track = MediaTrack("video", 96, "H264", 90000, {}, "rtsp://x/", None)
    pool = DecodePool(1, max_pending=0)  # no decode: the per-packet path alone
    pipe = MediaPipeline("bench", track, pool, sample_interval=1e9, skim=skim)
    pipe._last_sample_at = 1e12  # never due: every frame skimmed (skim=True)
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


def sim_keyframes(style: str, look: str = "normal", params: tuple = ()) -> list[bytes]:
    """The keyframes (Annex-B access units) of the simulator's 8 s loop, as
    camwatch's depacketizer hands them to the decoder."""
    spec = LoopSpec(
        codec="h264", width=640, height=360, fps=15.0, gop_frames=30, gops=4,
        bitrate=500_000, style=style, noise=STYLE_NOISE[style],
    ).with_look(look, params)  # fmt: skip
    depack, seq, out = H264Depacketizer([]), 0, []
    for i, unit in enumerate(encode_loop(spec).frames):
        last = len(unit.payloads) - 1
        for j, payload in enumerate(unit.payloads):
            pkt = parse_rtp(rtp_header(96, seq & 0xFFFF, i * 6000, 1, j == last) + payload)
            seq += 1
            out += [au.data for au in depack.push(pkt) if au.keyframe]
    return out


def analysis_figures(frames: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Mean per-frame figures of a fresh analyzer over the frames."""
    analyzer, rows = CameraAnalyzer(), []
    for i, (gray, rgb) in enumerate(frames):
        r = analyzer.analyze(FrameSample("bench", float(i * 2), float(i * 2), gray, rgb))
        rows.append((r.sharpness, r.noise_sigma, r.luma_mean, r.contrast, r.textured, r.entropy))
    cols = np.array(rows).mean(axis=0)
    names = ("sharp", "noise", "luma", "contrast", "textured", "entropy")
    return dict(zip(names, cols, strict=True))


def bench_decoder_options(repeat: int = 15) -> None:
    looks = {"sharp": ("normal", ()), "defocus 4": ("defocus", (("strength", 4.0),))}
    clips = {(st, lk): sim_keyframes(st, *looks[lk]) for st in STYLES for lk in looks}
    sizes = [len(k) for kfs in clips.values() for k in kfs]
    print(f"decoder options, sim keyframes 640x360 ({len(sizes)} IDRs, "
          f"{np.mean(sizes) / 1000:.0f} KB mean), decode + scale, ms per keyframe:")  # fmt: skip
    figures: dict[str, dict[tuple[str, str], dict[str, float]]] = {}
    for name, kw in DECODER_VARIANTS.items():
        dec = KeyframeDecoder("h264", **kw)
        got, runs = {}, []
        for key, kfs in clips.items():
            got[key] = [(d.gray, d.rgb) for d in map(dec.decode, kfs)]
        for _ in range(repeat):
            t0 = time.perf_counter()
            for kfs in clips.values():
                for kf in kfs:
                    dec.decode(kf)
            runs.append((time.perf_counter() - t0) / len(sizes) * 1000)
        figures[name] = {key: analysis_figures(frames * 8) for key, frames in got.items()}
        base = figures["default"]
        shifts = {
            f: np.mean([figures[name][k][f] / max(1e-9, base[k][f]) for k in clips])
            for f in ("sharp", "noise", "textured")
        }
        ratios = [figures[name][(st, "defocus 4")]["sharp"] / figures[name][(st, "sharp")]["sharp"]
                  for st in STYLES]  # fmt: skip
        print(
            f"  {name:>16}: {np.median(runs):5.2f} ms (min {min(runs):5.2f}); vs default: "
            f"sharpness x{shifts['sharp']:.3f}, noise x{shifts['noise']:.3f}, "
            f"textured x{shifts['textured']:.3f}; defocused/sharp sharpness "
            + " ".join(f"{st} {r:.2f}" for st, r in zip(STYLES, ratios, strict=True))
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    sections = ("decode", "pipeline", "sockets", "options")
    ap.add_argument("--section", action="append", choices=sections, help="default: all")
    args = ap.parse_args()
    run = set(args.section or sections)
    if "decode" in run:
        bench_decode_sizes()
    if "pipeline" in run:
        bench_pipeline_sizes()
    if "sockets" in run:
        bench_sockets(args.seconds)
    if "options" in run:
        bench_decoder_options()


def bench_decode_sizes() -> None:
    print("keyframe decode + scale (1 thread):")
    for w, h in ((640, 360), (1920, 1080)):
        print(f"  {w}x{h}: {bench_decode(w, h):6.2f} ms per keyframe")


def bench_pipeline_sizes() -> None:
    print("per-packet pipeline, no sockets (parse + stats + depacketize):")
    for w, h in ((640, 360), (1920, 1080)):
        for skim in (False, True):
            per, ppf = bench_pipeline(w, h, skim)
            how = "skimmed (not sampled)" if skim else "depacketized"
            print(f"  {w}x{h} {how}: {per:6.2f} us per packet (~{ppf} packets/frame)")


def bench_sockets(seconds: float) -> None:
    print(f"whole receive path over loopback, {seconds:g} s each (CPU of this process):")
    for size, fps in (("640x360", 15), ("1920x1080", 25)):
        proc, url = start_sim(size, fps)
        try:
            for transport in ("tcp", "udp"):
                for sample in (1e9, 1.0):
                    per, pct, n, k = asyncio.run(bench_socket(url, transport, seconds, sample))
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
