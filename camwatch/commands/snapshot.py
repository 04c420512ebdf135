"""`camwatch snapshot CAMERA`: one frame of a camera, printed to stdout as
terminal art (half blocks in colour, or an ASCII ramp), for scripts and
tickets. Honours privacy: masks are always applied, `thumbnails = "off"`
refuses, `"pixelate"` prints a mosaic; the view is audited when a store exists."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import CameraConfig, Inventory
    from ..thumbs import Depth


EXIT_FAILED, EXIT_USAGE = 2, 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("camera", help="a camera name from the inventory, or an rtsp:// URL")
    p.add_argument("--config", type=Path, help="inventory file")
    p.add_argument("--colors", default="auto", help="truecolor|256|16|mono|auto (default auto)")
    p.add_argument("--width", type=int, default=64, help="width in terminal cells (default 64)")
    p.add_argument("--seconds", type=float, default=6.0, help="how long to wait for a keyframe")


def run(args: argparse.Namespace) -> int:
    from ..config import ConfigError, camera_from_url, load_inventory
    from ..thumbs import parse_depth

    try:
        depth = parse_depth(args.colors)
        if "://" in args.camera:
            cfg, inventory = camera_from_url(args.camera), None
        else:
            inventory = load_inventory(args.config)
            cfg = inventory.camera(args.camera)
    except (ConfigError, KeyError, ValueError, OSError) as exc:
        print(f"camwatch snapshot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if cfg.thumbnails == "off":
        print(
            f"camwatch snapshot: images of {cfg.name} are off (privacy.thumbnails)", file=sys.stderr
        )
        return EXIT_FAILED
    return asyncio.run(_snapshot(cfg, inventory, depth, args))


async def _snapshot(
    cfg: CameraConfig, inventory: Inventory | None, depth: Depth, args: argparse.Namespace
) -> int:
    from ..core import PIXELATE_BLOCKS, pixelate
    from ..imaging import frame_hook_for
    from ..probe import probe
    from ..targets import target_of
    from ..thumbs import render_ansi

    result = await probe(target_of(cfg), args.seconds, frame_hook=frame_hook_for(cfg))
    sample = result.sample
    if sample is None or sample.rgb is None:
        print(
            f"camwatch snapshot: no frame: {result.state.status.value}: {result.state.reason}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    rgb = sample.rgb
    if cfg.thumbnails == "pixelate":
        rgb = pixelate(rgb, PIXELATE_BLOCKS)
    h, w = rgb.shape[:2]
    width = max(8, args.width)
    height = max(2, round(width * h / w / 2))  # half blocks: two pixels per cell vertically
    print(render_ansi(rgb, width, height, depth))
    await _audit(inventory, cfg.name)
    return 0


async def _audit(inventory: Inventory | None, camera: str) -> None:
    """Record the view in the history database when one is configured."""
    if inventory is None:
        return
    from ..alerts.rules import current_user
    from ..store.db import Store, StoreError

    section = dict(inventory.sections.get("store", {}))
    try:
        store = await Store.open(section.get("path"))
    except StoreError:
        return
    try:
        store.put_audit("thumbnail_view", f"camera:{camera}", "camwatch snapshot", current_user())
        await store.flush()
    finally:
        await store.close()
