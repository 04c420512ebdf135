"""`camwatch sim`: serve a simulated camera fleet over RTSP.

Prints each camera's URL on its own line on stdout (then flushes) before
serving, so scripts can read them; a one-line summary goes to stderr.
Ctrl+C or SIGTERM stops it cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import contextlib
import sys

EXIT_USAGE = 3
EXIT_FAILED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cameras", type=int, help="number of cameras (built-in scenarios)")
    parser.add_argument(
        "--port", type=int, default=8554, help="RTSP port (default 8554; 0 picks a free one)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--scenario",
        metavar="FILE|NAME",
        help="TOML scenario file, or a built-in: healthy (default), demo, faults",
    )
    parser.add_argument("--truth", metavar="FILE", help="write the faults' ground truth as JSON")
    parser.add_argument("--codec", choices=("h264", "h265"), help="default codec of the cameras")
    parser.add_argument("--size", metavar="WxH", help="default frame size, e.g. 640x360")
    parser.add_argument("--fps", type=float, help="default frame rate (default 15)")
    parser.add_argument("--gop", type=float, help="default seconds between keyframes (default 2)")
    parser.add_argument("--bitrate", help="default bitrate, e.g. 500k or 2M")
    parser.add_argument("--seed", type=int, help="seed for reproducible SSRCs and packet losses")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument(
        "--session-timeout",
        type=float,
        default=60.0,
        help="seconds without keepalive before a session is dropped (default 60)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests and faults")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from camwatch.sim.scenario import ScenarioError, build_scenario

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="camwatch sim: %(levelname)s %(message)s",
    )
    if not 0 <= args.port <= 65535:
        print(f"camwatch sim: --port {args.port} is not a port number", file=sys.stderr)
        return EXIT_USAGE
    if args.session_timeout <= 0:
        print("camwatch sim: --session-timeout must be positive", file=sys.stderr)
        return EXIT_USAGE
    try:
        scenario = build_scenario(
            args.scenario,
            cameras=args.cameras,
            codec=args.codec,
            size=args.size,
            fps=args.fps,
            gop=args.gop,
            bitrate=args.bitrate,
            seed=args.seed,
            duration=args.duration,
        )
    except ScenarioError as exc:
        print(f"camwatch sim: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_serve(scenario, args))


async def _serve(scenario, args: argparse.Namespace) -> int:  # scenario: Scenario
    import asyncio
    import signal

    from camwatch.sim.server import SimServer

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = SimServer(
        scenario,
        host=args.host,
        port=args.port,
        session_timeout=args.session_timeout,
        truth_path=args.truth,
    )
    try:
        await server.start()
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"camwatch sim: cannot start: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        _announce(server, scenario)
        if scenario.duration:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), scenario.duration)
        else:
            await stop.wait()
    finally:
        await server.stop()
        _farewell(server)
    return 0


def _farewell(server) -> None:
    cameras = server.stats()["cameras"].values()
    sent = sum(c["packets_sent"] for c in cameras)
    dropped = sum(c["packets_dropped"] for c in cameras)
    lost = sum(c["packets_lost"] for c in cameras)
    print(
        f"camwatch sim: stopped; {sent} RTP packets sent, {dropped} dropped for slow clients,"
        f" {lost} lost to packet_loss faults",
        file=sys.stderr,
        flush=True,
    )


def _announce(server, scenario) -> None:
    try:
        for url in server.urls().values():
            print(url)
        sys.stdout.flush()
    except BrokenPipeError:  # nobody reads our stdout any more: keep serving
        pass
    faults = f", {len(scenario.faults)} scheduled fault(s)" if scenario.faults else ""
    print(
        f"camwatch sim: serving {len(server.cameras)} camera(s) on {server.host}:{server.port}"
        f" (scenario {scenario.name}{faults}); Ctrl+C stops",
        file=sys.stderr,
        flush=True,
    )
