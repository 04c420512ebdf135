"""`camwatch probe URL|CAMERA`: is this camera streaming well, and if not, why."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import CameraConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "target", help="rtsp:// URL (credentials allowed) or a camera name from the inventory"
    )
    p.add_argument("--seconds", type=float, default=5.0, help="how long to observe (default 5)")
    p.add_argument("--transport", choices=("tcp", "udp", "auto"), help="override the transport")
    p.add_argument(
        "--timeout", type=float, default=5.0, help="connect/request timeout in s (default 5)"
    )
    p.add_argument("--config", type=Path, help="inventory file (for a camera name)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--no-analysis", action="store_true", help="skip the image checks")


def run(args: argparse.Namespace) -> int:
    from ..config import ConfigError, camera_from_url, load_inventory
    from ..probe import EXIT_UNKNOWN

    if args.seconds <= 0 or args.timeout <= 0:
        print("camwatch probe: --seconds and --timeout must be positive", file=sys.stderr)
        return EXIT_UNKNOWN
    try:
        if "://" in args.target:
            cfg = camera_from_url(args.target, transport=args.transport or "tcp")
        else:
            cfg = load_inventory(args.config).camera(args.target)
    except ConfigError as exc:
        print(f"camwatch probe: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    except (KeyError, ValueError, OSError) as exc:
        print(f"camwatch probe: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    if args.transport:
        from dataclasses import replace

        cfg = replace(cfg, transport=args.transport)
    return asyncio.run(_probe(cfg, args))


async def _probe(cfg: CameraConfig, args: argparse.Namespace) -> int:
    from ..probe import probe
    from ..report_text import probe_text
    from ..targets import target_of

    hook = None if args.no_analysis else _analysis_hook(cfg)
    result = await probe(
        target_of(cfg), args.seconds, connect_timeout=args.timeout, frame_hook=hook
    )
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(probe_text(result))
    return result.exit_code


def _analysis_hook(cfg: CameraConfig):
    from ..imaging import frame_hook_for

    return frame_hook_for(cfg)
