"""What one sample costs: keyframe decode + scale, then the camera's analysis.

    python bench/bench_samples.py [--cameras 217] [--rounds 10]

Decodes the simulator's own 640x360 H.264 keyframes (its four scene styles,
the fleet benchmark's stream) with one KeyframeDecoder, as a decode worker
does, and runs each camera's analysis hook on them (privacy masking and
every analyzer, baselines learned first), cameras taken in turn so that each
sample meets another camera's state. Thread CPU time, one core, BLAS pinned
to one thread. Prints ms per sample and what sampling every camera each
`interval` seconds would cost a fleet of that size. It is a floor: in
bench_fleet.py the decode pool's own CPU counter reads about 20% more per sample
(cache pressure, the pool, the loop's share of the GIL; bench/RESULTS.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import platform
import statistics
import time

import av
from bench_ingest import sim_keyframes

from camwatch.config import CameraConfig
from camwatch.decode import KeyframeDecoder
from camwatch.imaging import AnalysisHook
from camwatch.sim.scene import STYLES
from camwatch.state import FrameSample

INTERVALS = (2.0, 4.0, 8.0, 30.0)  # s between samples of one camera


def measure(cameras: int, rounds: int) -> tuple[list[float], list[float]]:
    """Per-sample thread CPU (ms) of decode + scale and of analysis, over the
    rounds after the baselines are learned."""
    clips = [sim_keyframes(style) for style in STYLES]
    decoder = KeyframeDecoder("h264")
    hooks = [AnalysisHook(CameraConfig(name=f"c{i}", url="rtsp://bench/")) for i in range(cameras)]
    learn = hooks[0].analyzer.settings.learn_samples + 2
    decode_ms: list[float] = []
    analyse_ms: list[float] = []
    for r in range(learn + rounds):
        for i, hook in enumerate(hooks):
            clip = clips[i % len(clips)]
            t0 = time.thread_time()
            decoded = decoder.decode(clip[(r + i) % len(clip)])
            t1 = time.thread_time()
            hook(FrameSample(f"c{i}", float(r * 4), float(r * 4), decoded.gray, decoded.rgb))
            t2 = time.thread_time()
            if r >= learn:
                decode_ms.append((t1 - t0) * 1000)
                analyse_ms.append((t2 - t1) * 1000)
    if not all(hook.baseline for hook in hooks):
        raise SystemExit("baselines were not learned: the figures would not be a fleet's")
    return decode_ms, analyse_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, default=217)
    ap.add_argument("--rounds", type=int, default=10, help="measured samples per camera")
    args = ap.parse_args()
    print(f"# {platform.python_version()}, PyAV {av.__version__}, {time.ctime()}")
    decode_ms, analyse_ms = measure(args.cameras, args.rounds)
    dec, ana = statistics.mean(decode_ms), statistics.mean(analyse_ms)
    total = dec + ana
    print(f"{args.cameras} cameras, {len(decode_ms)} samples measured (640x360 H.264 keyframes)")
    print(f"  decode + scale  {dec:6.2f} ms  (median {statistics.median(decode_ms):.2f})")
    print(f"  analysis        {ana:6.2f} ms  (median {statistics.median(analyse_ms):.2f})")
    print(f"  per sample      {total:6.2f} ms")
    print(f"  {args.cameras} cameras sampled every   " + "   ".join(f"{s:g} s" for s in INTERVALS))
    print(
        "  % of one core              "
        + "  ".join(f"{args.cameras * total / s / 10:5.1f}" for s in INTERVALS)
    )


if __name__ == "__main__":
    main()
