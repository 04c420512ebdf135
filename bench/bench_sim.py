"""Benchmark: CPU and memory of `camwatch sim` for 50, 200 and 500 cameras.

The sim runs as a child process (`camwatch sim --port 0`), so its CPU (user +
sys from /proc) and RSS are its own; this process plays every camera with one
aiortsp TCP client and counts what arrives. Prints a table; not a test.

    python bench/bench_sim.py [--cameras 50 200 500] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import resource
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from camwatch.sim.process import SimProcess

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def memory_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MiB."""
    values = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


@dataclass(eq=False)  # hashable by identity: aiortsp keeps clients in a set
class Count:
    packets: int = 0
    expected: int = 0
    last_seq: int | None = None
    playing: bool = False
    failed: str = ""

    def handle_rtp(self, rtp) -> None:  # aiortsp RTPTransportClient callback
        self.packets += 1
        if self.last_seq is not None:
            self.expected += (rtp.seq - self.last_seq) & 0xFFFF
        else:
            self.expected += 1
        self.last_seq = rtp.seq

    def handle_rtcp(self, rtcp) -> None:
        pass

    def handle_closed(self, error) -> None:
        pass

    def reset(self) -> None:
        self.packets = self.expected = 0
        self.last_seq = None


async def play(url: str, count: Count, gate: asyncio.Semaphore, stop: asyncio.Event) -> None:
    from aiortsp.rtsp.connection import RTSPConnection
    from aiortsp.rtsp.session import RTSPMediaSession
    from aiortsp.transport import TCPTransport

    parts = urlsplit(url)
    try:
        async with contextlib.AsyncExitStack() as stack:
            async with gate:
                conn = await stack.enter_async_context(
                    RTSPConnection(parts.hostname, parts.port, timeout=30)
                )
                transport = await stack.enter_async_context(TCPTransport(conn, timeout=30))
                transport.subscribe(count)
                session = await stack.enter_async_context(
                    RTSPMediaSession(conn, url, transport=transport)
                )
                await session.play()
            count.playing = True
            await stop.wait()
    except Exception as exc:
        count.failed = repr(exc)


async def _all_started(counts: list[Count], within: float) -> None:
    """Poll until every client plays or failed (aiortsp offers no event for it)."""
    deadline = time.monotonic() + within
    pending = [c for c in counts if not (c.playing or c.failed)]
    while pending and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        pending = [c for c in pending if not (c.playing or c.failed)]


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(cameras: int, seconds: float) -> dict[str, float | int | str]:
    began = time.monotonic()
    sim = SimProcess(cameras=cameras, startup_timeout=600)
    sim.start()
    startup = time.monotonic() - began
    assert sim.proc is not None
    pid = sim.proc.pid
    try:
        cpu0 = cpu_seconds(pid)
        await asyncio.sleep(3.0)
        idle_cpu = (cpu_seconds(pid) - cpu0) / 3.0
        idle_rss, _ = memory_mb(pid)
        counts = [Count() for _ in range(cameras)]
        stop = asyncio.Event()
        gate = asyncio.Semaphore(25)  # connection storm control, like a real NVR
        tasks = [
            asyncio.create_task(play(url, c, gate, stop))
            for url, c in zip(sim.urls.values(), counts, strict=True)
        ]
        await _all_started(counts, within=120.0)
        await asyncio.sleep(2.0)  # every client past its first keyframe
        for c in counts:
            c.reset()
        cpu0, mine0, t0 = cpu_seconds(pid), own_cpu(), time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - t0
        cpu = (cpu_seconds(pid) - cpu0) / elapsed
        client_cpu = (own_cpu() - mine0) / elapsed
        rss, peak = memory_mb(pid)
        received = sum(c.packets for c in counts)
        expected = sum(c.expected for c in counts)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    finally:
        sim.stop(timeout=30)
    summary = re.search(r"(\d+) RTP packets sent, (\d+) dropped", sim.stderr())
    sim.close()
    return {
        "cameras": cameras,
        "startup_s": startup,
        "idle_cpu": idle_cpu * 100,
        "cpu": cpu * 100,
        "rss": rss,
        "peak": peak,
        "idle_rss": idle_rss,
        "pps": received / elapsed,
        "loss": 100 * (1 - received / expected) if expected else 0.0,
        "playing": sum(c.playing for c in counts),
        "failed": sum(bool(c.failed) for c in counts),
        "why": next((c.failed for c in counts if c.failed), ""),
        "dropped": int(summary.group(2)) if summary else -1,
        "client_cpu": client_cpu * 100,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    logging.getLogger("rtsp_client").setLevel(logging.CRITICAL)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    print(f"camwatch sim, 640x360 H.264 15 fps 500 kbit/s, {os.cpu_count()} cores; "
          f"{args.seconds:g} s per run; CPU % of one core")  # fmt: skip
    header = (
        f"{'cams':>5} {'start s':>8} {'idle CPU':>9} {'CPU':>7} {'RSS MiB':>8} {'peak':>6}"
        f" {'pkt/s':>8} {'loss %':>7} {'play/fail':>10} {'dropped':>8} {'client CPU':>11}"
    )
    print(header)
    for n in args.cameras:
        r = asyncio.run(measure(n, args.seconds))
        print(
            f"{r['cameras']:>5} {r['startup_s']:>8.2f} {r['idle_cpu']:>8.1f}% {r['cpu']:>6.1f}%"
            f" {r['rss']:>8.1f} {r['peak']:>6.1f} {r['pps']:>8.0f} {r['loss']:>7.2f}"
            f" {r['playing']:>4}/{r['failed']:<5} {r['dropped']:>8} {r['client_cpu']:>10.1f}%",
            flush=True,
        )
        if r["why"]:
            print(f"      first client failure: {r['why']}")


if __name__ == "__main__":
    main()
