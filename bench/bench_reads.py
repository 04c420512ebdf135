"""What reading N camera sockets costs, by how they are read (no RTP processing).

A sender process writes one 2.2 KB frame 15 times a second on each of N
loopback TCP connections (a 500 kbit/s substream); the receiver only reads.
Printed per way of reading: the receiver's CPU (user+sys, % of one core),
reads per second and CPU per read.

    python bench/bench_reads.py                 # 217 connections, 20 s per way
    python bench/bench_reads.py --cameras 1000 --seconds 10

Ways: asyncio on readiness as it comes (recv of 256 KiB per read), asyncio
with the transport's read size at 64 KiB (camwatch's TCP and UDP transports),
uvloop on readiness (when installed), and timed reads every 0.2 s with
recvmsg and kernel timestamps (camwatch/rtsp/poller.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import signal
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

FPS = 15
FRAME = 2200
SO_TIMESTAMPNS = 35


def _sender(port: int, n: int) -> None:
    async def one() -> None:
        _, w = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(random.random() / FPS)
        t, data = time.monotonic(), b"x" * FRAME
        while True:
            w.write(data)
            t += 1 / FPS
            await asyncio.sleep(max(0.0, t - time.monotonic()))

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(n)))

    asyncio.run(main())


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class _Count:
    def __init__(self) -> None:
        self.reads = 0


async def _measure(count: _Count, seconds: float) -> tuple[float, int]:
    await asyncio.sleep(2.0)  # settle
    c0, r0 = _cpu(), count.reads
    await asyncio.sleep(seconds)
    return _cpu() - c0, count.reads - r0


async def readiness(conns: list[socket.socket], seconds: float, size: int | None) -> tuple:
    loop, count = asyncio.get_running_loop(), _Count()

    class Reader(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            count.reads += 1

    for s in conns:
        tr, _ = await loop.connect_accepted_socket(Reader, s)
        if size is not None:
            tr.max_size = size  # type: ignore[attr-defined]
    return await _measure(count, seconds)


async def timed(conns: list[socket.socket], seconds: float, period: float = 0.2) -> tuple:
    count, slices = _Count(), 10
    for s in conns:
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    space = socket.CMSG_SPACE(16)

    async def ticker() -> None:
        k = 0
        while True:
            for s in conns[k::slices]:
                try:
                    s.recvmsg(65536, space)
                except BlockingIOError:
                    continue
                count.reads += 1
            k = (k + 1) % slices
            await asyncio.sleep(period / slices)

    task = asyncio.create_task(ticker())
    try:
        return await _measure(count, seconds)
    finally:
        task.cancel()


def _run_way(n: int, seconds: float, way: Callable[..., Coroutine[Any, Any, tuple]], uv: bool):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    pid = os.fork()
    if pid == 0:
        listener.close()
        _sender(port, n)
        os._exit(0)
    try:
        conns = [listener.accept()[0] for _ in range(n)]
        runner = asyncio.run
        if uv:
            import uvloop  # type: ignore[import-not-found]

            runner = uvloop.run
        cpu, reads = runner(way(conns, seconds))
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        listener.close()
    for s in conns:
        s.close()
    return cpu, reads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, default=217)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 16384)), hard))
    ways: list[tuple[str, Callable[..., Coroutine[Any, Any, tuple]], bool]] = [
        ("asyncio, readiness, 256 KiB", lambda c, s: readiness(c, s, None), False),
        ("asyncio, readiness, 64 KiB", lambda c, s: readiness(c, s, 65536), False),
    ]
    try:
        import uvloop  # type: ignore[import-not-found]  # noqa: F401

        ways.append(("uvloop, readiness", lambda c, s: readiness(c, s, None), True))
    except ImportError:
        print("(uvloop not installed: its row is skipped)")
    ways.append(("timed 0.2 s, recvmsg + stamp", timed, False))
    print(f"{args.cameras} connections, {FPS} frames/s of {FRAME} B each, {args.seconds:g} s")
    print(f"{'way':32s} {'CPU %':>6s} {'reads/s':>8s} {'us/read':>8s}")
    for name, way, uv in ways:
        cpu, reads = _run_way(args.cameras, args.seconds, way, uv)
        rate, per_read = reads / args.seconds, 1e6 * cpu / max(1, reads)
        print(f"{name:32s} {100 * cpu / args.seconds:6.2f} {rate:8.0f} {per_read:8.1f}")


if __name__ == "__main__":
    main()
