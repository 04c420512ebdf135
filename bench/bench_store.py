"""Benchmark of the history store, the rule engine and the monitor path (prints figures).

    python bench/bench_store.py [--cameras 200] [--days 2]

Figures:
- per-state cost of the monitor path (rule engine + minute rollup + queueing)
- flush (one transaction) time for typical and worst-case batches
- database size per camera-day of health minutes and the retention pass time
- `camwatch report` computation time over many cameras and status intervals
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from camwatch.alerts.model import AlertEvent
from camwatch.alerts.rules import RuleEngine
from camwatch.state import CameraState, Condition, Status, StreamStats
from camwatch.store.db import Store
from camwatch.store.report import build_report
from camwatch.store.rollup import HealthMinute, MinuteRollup


def states(cameras: int, seconds: int) -> list[tuple[float, CameraState]]:
    rng = random.Random(1)
    out = []
    for t in range(seconds):
        for c in range(cameras):
            stats = StreamStats(
                fps=25 + rng.random(),
                bitrate_bps=2e6 * (0.8 + 0.4 * rng.random()),
                loss_ratio=0.001 * rng.random(),
                jitter_ms=5 * rng.random(),
                gop_s=2.0,
            )
            conds = (Condition("frozen", False, 0.2), Condition("motion", True, rng.random()))
            status = Status.OFFLINE if (c % 50 == 0 and t > seconds // 2) else Status.LIVE
            out.append(
                (
                    1000.0 + t,
                    CameraState(
                        f"cam{c:04d}",
                        "rtsp://x/",
                        status=status,
                        since=0.0,
                        stats=stats,
                        conditions=conds,
                    ),
                )
            )
    return out


async def bench_monitor_path(cameras: int, path: Path) -> None:
    seq = states(cameras, 120)
    engine, rollup = RuleEngine(), MinuteRollup()
    store = await Store.open(path, flush_interval=3600)
    t0 = time.perf_counter()
    events: list[AlertEvent] = []
    for now, st in seq:
        events += engine.evaluate(st, now)
        store.put_health(rollup.add(st, now))
    for e in events:
        store.put_alert(e)
    dt = time.perf_counter() - t0
    print(
        f"monitor path (engine + rollup + queue): {dt / len(seq) * 1e6:.1f} µs per state"
        f" ({len(seq)} states, {len(events)} alert events);"
        f" {cameras} cameras at 1 state/s use {dt / len(seq) * cameras * 100:.2f}% of a core"
    )
    t0 = time.perf_counter()
    n = await store.flush()
    print(
        f"flush of the queued rollups/alerts: {n} rows in {(time.perf_counter() - t0) * 1e3:.1f} ms"
    )
    await store.close()


async def bench_flush(path: Path) -> None:
    store = await Store.open(path, flush_interval=3600)
    for rows in (10, 200, 2000, 20000):
        store.put_health(
            HealthMinute(f"cam{i:05d}", 60 * (rows + i), 60, 60, "live", 60, 25.0, 2e6, 0, 1, 0.1)
            for i in range(rows)
        )
        t0 = time.perf_counter()
        await store.flush()
        dt = time.perf_counter() - t0
        print(f"flush of {rows:>6} health rows: {dt * 1e3:7.1f} ms ({rows / dt:,.0f} rows/s)")
    await store.close()


async def bench_size_and_report(cameras: int, days: int, path: Path) -> None:
    store = await Store.open(path, flush_interval=3600, max_pending=10_000_000)
    start = 1_700_000_000.0
    rng = random.Random(2)
    t0 = time.perf_counter()
    for d in range(days):
        for c in range(cameras):
            name = f"cam{c:04d}"
            base = start + d * 86400
            store.put_health(
                HealthMinute(name, int(base + m * 60), 60, 60, "live", 60, 25.0, 2e6, 0.0, 2.0, 0.1)
                for m in range(1440)
            )
            # ~10 outages a day per camera
            t = base
            for _ in range(10):
                t += rng.uniform(3000, 8000)
                store.put_status(name, Status.OFFLINE, "refused", t)
                store.put_status(name, Status.LIVE, "", t + rng.uniform(5, 600))
        await store.flush()
    write_s = time.perf_counter() - t0
    await store.close()
    size = sum(f.stat().st_size for f in path.parent.glob(path.name + "*"))
    per = size / (cameras * days)
    print(
        f"history of {cameras} cameras x {days} days written in {write_s:.1f} s:"
        f" {size / 1e6:.1f} MB, {per / 1e3:.0f} kB per camera-day"
        f" (30 days of 200 cameras: ~{per * 200 * 30 / 1e9:.2f} GB)"
    )
    reader = await Store.open(path, readonly=True)
    t0 = time.perf_counter()
    reports = await build_report(reader, start, start + days * 86400)
    print(
        f"report over {len(reports)} cameras, {cameras * days * 20} intervals:"
        f" {(time.perf_counter() - t0) * 1e3:.0f} ms"
    )
    await reader.close()
    store = await Store.open(path, retention_days=days - 1)
    t0 = time.perf_counter()
    deleted = await store.enforce_retention(start + days * 86400 + 60)
    print(
        f"retention pass deleting one day ({deleted['health_minute']} minutes,"
        f" {deleted['state_changes']} intervals): {time.perf_counter() - t0:.2f} s"
    )
    await store.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=200)
    ap.add_argument("--days", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, files in {d}")
        await bench_monitor_path(args.cameras, Path(d) / "monitor.db")
        await bench_flush(Path(d) / "flush.db")
        await bench_size_and_report(args.cameras, args.days, Path(d) / "size.db")


if __name__ == "__main__":
    asyncio.run(main())
