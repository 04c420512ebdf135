"""`camwatch` / `camwatch tui`: the terminal UI on the configured inventory.

When a daemon runs on this machine, attach to it over its Unix socket (no
RTSP session of our own: cameras accept only a few); otherwise run an
in-process core.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Inventory


EXIT_CONFIG = 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="inventory file (default: XDG config dir)")
    p.add_argument(
        "--theme",
        default=None,
        help="camwatch-dark | camwatch-light | camwatch-mono | a user theme",
    )
    p.add_argument("--colors", default=None, help="truecolor|256|16|mono (default: detect)")
    p.add_argument("--no-mouse", action="store_true", help="keyboard only")
    p.add_argument("--socket", type=Path, help="daemon socket (default: the runtime dir)")
    p.add_argument("--no-attach", action="store_true", help="never attach to a daemon")
    p.add_argument(
        "--pixels", default=None, help="opt-in pixel zoom: auto|kitty|sixel|off (default auto)"
    )


def _ui_options(args: argparse.Namespace, tui_section: dict) -> dict[str, object]:
    return {
        "theme": args.theme or tui_section.get("theme", "camwatch-dark"),
        "colors": args.colors or tui_section.get("colors", "auto"),
        "mouse": not args.no_mouse and bool(tui_section.get("mouse", True)),
        "pixels": args.pixels or tui_section.get("pixels", "auto"),
    }


def run(args: argparse.Namespace) -> int:
    from ..paths import default_config_path
    from .inventory import load_or_report

    if not args.no_attach:
        from ..tui.app import run_attached

        code = run_attached(args.socket, **_ui_options(args, {}))
        if code is not None:
            return code
    path = args.config or default_config_path()
    if args.config is None and not path.exists():
        print(
            f"camwatch: no cameras configured yet ({path} does not exist).\n"
            "  Create it (see examples/cameras.toml), or try `camwatch demo`.",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    inventory = load_or_report(args.config, EXIT_CONFIG)
    if isinstance(inventory, int):
        return inventory
    return asyncio.run(_own_core(inventory, args))


async def _own_core(inventory: Inventory | None, args: argparse.Namespace) -> int:
    from ..core import Core
    from ..tui.app import build_app

    core = Core(inventory)
    opts = _ui_options(args, dict(inventory.sections.get("tui", {})))
    privacy = dict(inventory.sections.get("privacy", {}))
    opts["thumbnails"] = privacy.get("thumbnails", "on")
    app = build_app(core.bus, core.control, opts)
    if isinstance(app, int):
        return app
    await core.start()
    try:
        await app.run_async(mouse=app.use_mouse)
    finally:
        await core.stop()
    return app.return_code or 0
