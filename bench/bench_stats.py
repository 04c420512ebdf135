"""Cost of StreamStatsTracker on a 1000 packets/s camera stream (prints figures).

    python bench/bench_stats.py [--seconds 120]

The stream: 25 fps x 40 packets of 1200 bytes, GOP 2 s, 0.5 % loss, queueing
jitter that reorders neighbours. Reports the per-call cost of on_packet and
on_frame in a steady state, the cost of a snapshot once the 10 s window is
full (default rings, which overflow at 1000 packets/s, and rings that hold
the whole window), and what that adds up to per camera.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from camwatch.stats import StreamStatsTracker

RATE = 90_000
FPS = 25
PPF = 40  # 25 x 40 = 1000 packets/s


def build_stream(seconds: float, seed: int = 1) -> tuple[list[tuple], list[tuple]]:
    """(packet args, frame args) in arrival order, each as passed to the tracker."""
    rng = random.Random(seed)
    packets: list[tuple[float, int, int, int]] = []
    frames: list[tuple[float, int, int, bool]] = []
    for f in range(int(seconds * FPS)):
        send = 1000.0 + f / FPS
        ts = (f * RATE // FPS) & 0xFFFFFFFF
        last = send
        for j in range(PPF):
            if rng.random() < 0.005:
                continue
            arrival = send + j * 0.0004 + rng.expovariate(1 / 0.002)
            last = max(last, arrival)
            packets.append((arrival, (f * PPF + j) & 0xFFFF, ts, 1200))
        frames.append((last, ts, PPF * 1200, f % (2 * FPS) == 0))
    packets.sort()
    frames.sort()
    return (
        [(seq, ts, arrival, size) for arrival, seq, ts, size in packets],
        [(ts, arrival, size, key) for arrival, ts, size, key in frames],
    )


def per_call_us(fn, args: list[tuple], repeat: int = 5) -> float:
    """Best-of-`repeat` µs per call, loop overhead included (see the no-op line)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for a in args:
            fn(*a)
        best = min(best, time.perf_counter() - t0)
    return best / len(args) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="simulated stream length")
    args = parser.parse_args()
    packets, frames = build_stream(args.seconds)

    def noop(a: object, b: object, c: object, d: object) -> None:
        return None

    loop_us = per_call_us(noop, packets)
    packet_us = []
    for _ in range(5):
        tracker = StreamStatsTracker(RATE)  # fresh, so every run sees the same stream
        packet_us.append(per_call_us(tracker.on_packet, packets, repeat=1))
    frame_us = per_call_us(StreamStatsTracker(RATE).on_frame, frames)

    print(f"stream: {len(packets)} packets, {len(frames)} frames over {args.seconds:.0f} s")
    median_us = statistics.median(packet_us)
    print(f"on_packet: {min(packet_us):.3f} us/call (median of 5 runs {median_us:.3f})")
    print(f"  of which a call to a no-op function with the same args: {loop_us:.3f} us")
    print(f"on_frame:  {frame_us:.3f} us/call")

    snapshot_ms = {}
    for capacity in (8192, 16384):
        tracker = StreamStatsTracker(RATE, capacity=capacity)
        for a in packets:
            tracker.on_packet(*a)
        for a in frames:
            tracker.on_frame(*a)
        now = packets[-1][2]
        tracker.snapshot(now)  # fold the drift history once, as a live tracker would have
        times = []
        for i in range(200):
            t0 = time.perf_counter()
            tracker.snapshot(now + i * 1e-3)
            times.append(time.perf_counter() - t0)
        snapshot_ms[capacity] = statistics.median(times) * 1e3
        w = tracker.window(now)
        print(
            f"snapshot (capacity {capacity}, {w.packets} packets over {w.duration_s:.1f} s held): "
            f"{snapshot_ms[capacity]:.3f} ms median, {max(times) * 1e3:.3f} ms max"
        )

    per_camera = 1000 * min(packet_us) + FPS * frame_us + snapshot_ms[8192] * 1e3
    print(
        f"per camera at 1000 packets/s with one snapshot a second: {per_camera / 1e3:.2f} ms "
        f"of CPU per second ({per_camera / 1e4:.2f} % of a core, ~{1e6 / per_camera:.0f} "
        "cameras per core for statistics alone)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
