"""`camwatch demo`: a simulated fleet of cameras with faults that come and go,
monitored by the whole product (TUI where there is a terminal)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core import Core
    from ..demo import DemoRun


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--headless", action="store_true", help="a live text summary instead of the TUI")
    p.add_argument("--cameras", type=int, default=16, help="simulated cameras (default 16)")
    p.add_argument("--port", type=int, default=0, help="simulator RTSP port (default: any free)")
    p.add_argument("--seconds", type=float, default=0, help="stop after this long (default: never)")
    p.add_argument("--theme", default="camwatch-dark", help="TUI theme")
    p.add_argument("--colors", default="auto", help="truecolor|256|16|mono|auto")
    p.add_argument("--no-mouse", action="store_true", help="keyboard only")
    p.add_argument(
        "--shards",
        type=int,
        help="processes that run the cameras (default: 1 under 300 cameras, else one per core)",
    )


def run(args: argparse.Namespace) -> int:
    from ..demo import DemoRun

    if not 1 <= args.cameras <= 1000:
        print("camwatch demo: --cameras must be between 1 and 1000", file=sys.stderr)
        return 3
    if args.shards is not None and not 1 <= args.shards <= 64:
        print("camwatch demo: --shards must be between 1 and 64", file=sys.stderr)
        return 3
    headless = args.headless or not (sys.stdin.isatty() and sys.stdout.isatty())
    print(
        f"camwatch demo: encoding {args.cameras} simulated cameras...", file=sys.stderr, flush=True
    )
    with DemoRun(args.cameras, args.port) as demo:
        assert demo.server is not None
        print(
            f"camwatch demo: simulator on rtsp://127.0.0.1:{demo.server.port}/<camera>; "
            "faults appear and clear every few minutes. Ctrl+C stops.",
            file=sys.stderr,
            flush=True,
        )
        return asyncio.run(_main(demo, args, headless))


async def _main(demo: DemoRun, args: argparse.Namespace, headless: bool) -> int:
    from ..core import Core, CoreOptions

    core = Core(demo.inventory(), CoreOptions(notify=False, shards=args.shards))
    await core.start()
    try:
        if headless:
            return await _headless(core, args.seconds)
        return await _tui(core, args)
    finally:
        await core.stop()


async def _headless(core: Core, seconds: float) -> int:
    from ..headless import live_summary

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    if seconds > 0:
        loop.call_later(seconds, stop.set)
    await live_summary(core.bus, stop)
    return 0


async def _tui(core: Core, args: argparse.Namespace) -> int:
    from ..tui.app import build_app

    app = build_app(
        core.bus,
        core.control,
        {"theme": args.theme, "colors": args.colors, "mouse": not args.no_mouse},
    )
    if isinstance(app, int):
        return app
    if args.seconds > 0:
        asyncio.get_running_loop().call_later(args.seconds, app.exit)
    await app.run_async(mouse=app.use_mouse)
    return app.return_code or 0
