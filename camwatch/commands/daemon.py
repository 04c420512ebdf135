"""`camwatch daemon`: continuous headless monitoring (systemd service).

See camwatch/daemon.py for what it runs; packaging/camwatch.service for a unit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_USAGE = 3

EPILOG = """\
Signals: SIGHUP reloads the inventory (unchanged cameras keep their sessions;
an invalid file is reported and the running configuration kept); SIGTERM or
SIGINT stop cleanly (exit 0). Under systemd (Type=notify) it reports READY,
RELOADING, STOPPING, a STATUS line and watchdog pings.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument("--config", type=Path, help="inventory file (default: XDG config dir)")
    p.add_argument("--db", type=Path, help="history database (default: [store] path or XDG)")
    p.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        help="Prometheus endpoint (default: [metrics] listen or 127.0.0.1:9108; 'off' for none)",
    )
    p.add_argument(
        "--metrics-public",
        action="store_true",
        help="allow a non-loopback metrics address (the endpoint has no authentication)",
    )
    p.add_argument(
        "--socket",
        type=Path,
        metavar="PATH",
        help="Unix socket for attached TUIs (default: $CAMWATCH_SOCKET, "
        "$XDG_RUNTIME_DIR/camwatch.sock or /tmp/camwatch-UID.sock)",
    )
    p.add_argument("--no-socket", action="store_true", help="serve no socket for TUIs")
    p.add_argument(
        "--socket-group", metavar="GROUP", help="group allowed to attach (socket mode 0660)"
    )
    p.add_argument("--workers", type=int, help="decode threads (default: up to 4)")
    p.add_argument(
        "--shards",
        type=int,
        help="processes that run the cameras (default: 1 under 300 cameras, else one per core)",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio

    from ..config import ConfigError, load_inventory
    from ..daemon import DaemonOptions, run_daemon

    if args.workers is not None and not 1 <= args.workers <= 64:
        print("camwatch daemon: --workers must be between 1 and 64", file=sys.stderr)
        return EXIT_USAGE
    if args.shards is not None and not 1 <= args.shards <= 64:
        print("camwatch daemon: --shards must be between 1 and 64", file=sys.stderr)
        return EXIT_USAGE
    try:
        inventory = load_inventory(args.config)
    except ConfigError as exc:
        print(f"camwatch daemon: {len(exc.problems)} problem(s) in the inventory:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    for warning in inventory.warnings:
        print(f"camwatch daemon: warning: {warning}", file=sys.stderr)
    options = DaemonOptions(
        config=args.config,
        db=args.db,
        metrics=args.metrics,
        metrics_public=args.metrics_public,
        socket=args.socket,
        serve_socket=not args.no_socket,
        socket_group=args.socket_group,
        workers=args.workers,
        shards=args.shards,
    )
    return asyncio.run(run_daemon(inventory, options))
