"""Benchmark of one daemon and its viewers over the Unix socket (camwatch.remote).

    python bench/bench_remote.py [--cameras 1000] [--viewers 2]

Prints figures; asserts nothing: attach time (hello + full sync), bytes per
camera state on the wire, how fast published states reach every viewer, the
round trip of an acknowledgement and of a thumbnail, and the publisher's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from camwatch.tui import sample

from camwatch.bus import LocalBus
from camwatch.control import MemoryControl
from camwatch.remote import connect, serve
from camwatch.remote_wire import encode_event, thumb_to_wire


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


async def run(n: int, n_viewers: int) -> None:
    bus = LocalBus()
    control = MemoryControl(bus, clock=lambda: sample.EPOCH)
    states = sample.fleet(n)
    sample.populate(bus, control, states)
    sizes = [len(encode_event(st) or b"") for st in states]
    print(f"\n== {n} cameras, {n_viewers} viewers ==")
    print(f"  state line: median {statistics.median(sizes):.0f} B, max {max(sizes)} B")
    with tempfile.TemporaryDirectory(prefix="cw", dir="/tmp") as tmp:
        server = serve(bus, control, Path(tmp) / "b.sock")
        await server.start()
        viewers = []
        try:
            for _ in range(n_viewers):
                t0 = time.perf_counter()
                viewers.append(await connect(server.path))
                print(f"  attach (hello + sync of {n} states)   {ms(time.perf_counter() - t0)}")
            subs = [b.subscribe(4 * n) for b, _ in viewers]
            for rnd in range(3):
                c0, t0 = time.process_time(), time.perf_counter()
                for st in states:
                    bus.publish(replace(st, updated=st.updated + rnd + 1))
                publish_cpu = time.process_time() - c0
                want = sample.EPOCH + rnd + 1
                last = states[-1].name
                while not all(b.states()[last].updated == want for b, _ in viewers):  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
                took = time.perf_counter() - t0
                print(
                    f"  {n} states to every viewer            {ms(took)}"
                    f"   ({n / took:,.0f} states/s; publish() cpu {ms(publish_cpu)})"
                )
            for sub in subs:
                sub.get_nowait()
            ctl_a = viewers[0][1]
            alerts = await ctl_a.active_alerts()
            t0 = time.perf_counter()
            await ctl_a.acknowledge(alerts[0].id, "bench", "")
            ack = time.perf_counter() - t0
            if len(subs) > 1:
                await subs[1].get()
            seen = time.perf_counter() - t0
            print(
                f"  acknowledge round trip                 {ms(ack)}   (viewer 2 saw it {ms(seen)})"
            )
            frame = control.thumbnail(states[0].name)
            wire = len(str(thumb_to_wire(frame)))
            times = []
            for _ in range(20):
                t0 = time.perf_counter()
                await ctl_a.fetch_thumbnail(states[1].name)
                times.append(time.perf_counter() - t0)
                ctl_a._thumbs.clear()  # force a full transfer each time
            shape = "x".join(str(v) for v in frame.rgb.shape)
            print(f"  thumbnail round trip ({shape}, {wire} B)   {ms(statistics.median(times))}")
            t0 = time.perf_counter()
            for _ in range(20):
                await ctl_a.fetch_thumbnail(states[1].name)
            print(f"  thumbnail unchanged (no image sent)    {ms((time.perf_counter() - t0) / 20)}")
        finally:
            for b, _ in viewers:
                await b.aclose()
            await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=1000)
    parser.add_argument("--viewers", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(run(args.cameras, args.viewers))


if __name__ == "__main__":
    main()
