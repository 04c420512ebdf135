"""Benchmark of the TUI with 1000 cameras: key response, table updates, thumbnail bytes.

    python bench/bench_tui.py [--cameras 1000] [--size 160x48]

Prints figures; asserts nothing. Key response is measured with Textual's Pilot
in headless mode: from posting the key to the screen having processed it and
rendered its update (`pilot.press` + a compositor refresh). Pilot itself waits
for the process to go idle, so each figure includes a fixed overhead, shown as
the "unbound key" line.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.segment import Segment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from camwatch.tui import sample
from camwatch.tui.app import CamwatchApp
from camwatch.tui.screens.zoom import zoom_sequence
from camwatch.tui.widgets.thumbnail import cell_style

from camwatch.bus import LocalBus
from camwatch.control import MemoryControl
from camwatch.pixels import Pixels
from camwatch.state import Status
from camwatch.thumbs import Depth, render_ansi, render_cells

RICH_SYSTEM = {
    Depth.TRUECOLOR: "truecolor",
    Depth.C256: "256",
    Depth.C16: "standard",
    Depth.MONO: None,
}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def summary(name: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    med = ms(statistics.median(samples))
    cpu = sorted(CPU.pop("last", None) or [])
    cpu_p95 = cpu[min(len(cpu) - 1, int(len(cpu) * 0.95))] if cpu else 0.0
    cpu_text = f"   cpu {ms(statistics.median(cpu))} (p95 {ms(cpu_p95)})" if cpu else ""
    print(f"  {name:<42} median {med}   p95 {ms(p95)}{cpu_text}   n={len(samples)}")


CPU: dict[str, list[float]] = {}


async def press_times(app, pilot, keys: list[str], repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Wall time per key; the process CPU time of the same presses goes to CPU[keys]."""
    out, cpu = [], []
    for _ in range(repeat):
        for key in keys:
            t0, c0 = time.perf_counter(), time.process_time()
            await pilot.press(key)
            app.screen._on_timer_update()  # render what the key changed
            out.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    CPU.setdefault("last", []).extend(cpu)
    return out


async def bench_keys(n: int, size: tuple[int, int]) -> None:
    app, bus, control, states = sample.make_app(n, thumb_interval=3600.0)
    print(f"\n== {n} cameras, terminal {size[0]}x{size[1]} ==")
    t0 = time.perf_counter()
    async with app.run_test(size=size) as pilot:
        await app.alerts_loaded.wait()
        await pilot.pause()
        print(f"  {'startup to first full table':<40}        {ms(time.perf_counter() - t0)}")
        screen = app.screen
        print("key response (press -> processed -> rendered):")
        summary("unbound key (Pilot overhead)", await press_times(app, pilot, ["f12"], 30))
        summary("j / k (cursor)", await press_times(app, pilot, ["j", "k"], 30))
        summary("pagedown", await press_times(app, pilot, ["pagedown"], 15))
        summary("G / g (bottom, top)", await press_times(app, pilot, ["G", "g"], 10))
        summary("s (next sort column, 1000 rows)", await press_times(app, pilot, ["s"], 9))
        screen.sort_by("state")
        await pilot.pause()
        summary("z (group by site on/off)", await press_times(app, pilot, ["z"], 6))
        filt = await press_times(app, pilot, ["slash", "c", "a", "m", "-", "0", "0"], 3)
        summary("/ and typing a filter", filt)
        cleared = await press_times(app, pilot, ["escape"], 1)
        for _ in range(7):
            await pilot.press("slash", "c", "a", "m", "-", "0", "0")
            cleared += await press_times(app, pilot, ["escape"], 1)
        summary("escape (clear 'cam-00': 1000 rows back)", cleared)
        summary_escape = []
        for _ in range(8):
            await pilot.press("slash", "c", "a", "m", "-", "0", "0", "1")
            summary_escape += await press_times(app, pilot, ["escape"], 1)
        summary("escape (clear 'cam-001': 1 -> 1000 rows)", summary_escape)
        opened = []
        for _ in range(10):
            opened += await press_times(app, pilot, ["enter"], 1)
            await pilot.press("escape")
        summary("enter (open camera screen)", opened)
        back = []
        for _ in range(10):
            await pilot.press("enter")
            back += await press_times(app, pilot, ["escape"], 1)
        summary("escape (back to 1000-row fleet)", back)
        summary("t (tiles on/off)", await press_times(app, pilot, ["t"], 12))

        print("table update (drain the bus, coalesce, update cells, render):")
        for changed, label in ((50, "50 cameras changed"), (n, f"all {n} changed")):
            times = []
            for rnd in range(5):
                for st in states[:changed]:
                    fps = max(1.0, st.stats.fps - rnd - 1)
                    bus.publish(
                        replace(st, stats=replace(st.stats, fps=fps), updated=st.updated + rnd)
                    )
                t1 = time.perf_counter()
                app.drain()
                app.screen._on_timer_update()
                times.append(time.perf_counter() - t1)
            summary(label, times)
        screen.sort_by("fps")
        await pilot.pause()
        times = []
        for rnd in range(5):
            for i, st in enumerate(states):
                fps = 5.0 + ((i * 7919 + rnd * 104729) % 2000) / 100
                bus.publish(
                    replace(st, stats=replace(st.stats, fps=fps), updated=st.updated + 10 + rnd)
                )
            t1 = time.perf_counter()
            app.drain()
            app.screen._on_timer_update()
            times.append(time.perf_counter() - t1)
        summary(f"all {n} changed, sorted by fps (reorder)", times)
        t1 = time.perf_counter()
        for _ in range(10):
            app.drain()
            app.screen._on_timer_update()
        print(f"  {'idle tick (nothing queued)':<40} mean   {ms((time.perf_counter() - t1) / 10)}")
        down = [replace(s, status=Status.OFFLINE, reason="switch down") for s in states[:30]]
        for st in down:
            bus.publish(st)
        t1 = time.perf_counter()
        app.drain()
        app.screen._on_timer_update()
        print(f"  {'30 cameras go offline at once':<40} once   {ms(time.perf_counter() - t1)}")
        await pilot.press("q")
    _ = control


def textual_bytes(depth: Depth, rgb: np.ndarray, width: int, height: int) -> int:
    """Bytes Rich (Textual's renderer) emits to paint the thumbnail's lines at this depth,
    with a cursor move per line as Textual sends them."""
    cells = render_cells(rgb, width, height, depth, fit=False)
    console = Console(
        file=io.StringIO(), color_system=RICH_SYSTEM[depth], force_terminal=True, width=width
    )
    segments: list[Segment] = []
    for y, row in enumerate(cells.rows):
        segments.append(Segment(f"\x1b[{y + 1};1H"))
        line = [Segment(ch, cell_style(fg, bg)) for ch, fg, bg in row]
        segments.extend(Segment.simplify(line))
    return len(console._render_buffer(segments).encode())


def bench_thumbnails() -> None:
    print("\nthumbnail bytes per refresh, 40x20 cells (80 x 40 pixels):")
    scene = sample.frame("cam-001", width=320, height=180).rgb
    noisy = np.random.default_rng(1).integers(0, 256, (180, 320, 3), dtype=np.uint8)
    print(
        f"  {'depth':<10} {'scene ANSI':>11} {'scene TUI':>10} {'noise ANSI':>11} {'noise TUI':>10}"
    )
    for depth in Depth:
        a = len(render_ansi_exact(scene, depth).encode())
        b = textual_bytes(depth, scene, 40, 20)
        c = len(render_ansi_exact(noisy, depth).encode())
        d = textual_bytes(depth, noisy, 40, 20)
        print(f"  {depth.value:<10} {a:>9} B {b:>8} B {c:>9} B {d:>8} B")
    print("  unchanged frame: 0 B (no redraw; tiles and camera poll every 3 s by default)")
    print("pixel zoom (z on a camera, opt-in), one 160x90 frame in a 158x45-cell area:")
    frame = sample.frame("cam-001").rgb
    for protocol in (Pixels.KITTY, Pixels.SIXEL):
        t0 = time.perf_counter()
        text, _ = zoom_sequence(frame, protocol, 158, 45)
        took = time.perf_counter() - t0
        print(f"  {protocol.value:<6} {len(text.encode()):>8} B   encode {took * 1000:.1f} ms")
    t0 = time.perf_counter()
    for _ in range(100):
        render_cells(scene, 40, 20, Depth.TRUECOLOR, fit=False)
    per = (time.perf_counter() - t0) / 100
    print(f"  render 320x180 -> 40x20 cells (truecolor): {per * 1000:.2f} ms per thumbnail")
    _ = render_ansi


def render_ansi_exact(rgb: np.ndarray, depth: Depth) -> str:
    return render_cells(rgb, 40, 20, depth, fit=False).to_ansi()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=1000)
    parser.add_argument("--size", default="160x48")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    asyncio.run(bench_keys(args.cameras, (w, h)))
    bench_thumbnails()
    _ = LocalBus, MemoryControl, CamwatchApp


if __name__ == "__main__":
    main()
