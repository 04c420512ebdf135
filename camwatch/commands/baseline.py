"""`camwatch baseline CAMERA`: make the camera's current view its reference
(for focus and camera-moved), after an installer has aimed and focused it.

With a daemon running, the daemon captures it from its live session; without
one, camwatch watches the camera for a few seconds and stores the baseline in
the history database, where the daemon loads it at start."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import CameraConfig, Inventory


EXIT_FAILED, EXIT_USAGE = 2, 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("camera", help="a camera name from the inventory")
    p.add_argument("--config", type=Path, help="inventory file")
    p.add_argument("--seconds", type=float, default=10.0, help="observation when no daemon runs")
    p.add_argument("--socket", type=Path, help="daemon socket (default: the runtime dir)")


def run(args: argparse.Namespace) -> int:
    from ..config import ConfigError, load_inventory

    try:
        inventory = load_inventory(args.config)
        cfg = inventory.camera(args.camera)
    except (ConfigError, KeyError, OSError) as exc:
        print(f"camwatch baseline: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_baseline(inventory, cfg, args))


async def _baseline(inventory: Inventory, cfg: CameraConfig, args: argparse.Namespace) -> int:
    from ..alerts.rules import current_user
    from ..control import ControlError
    from ..remote import RemoteError, attach

    user = current_user()
    try:
        remote = await attach(args.socket)
    except RemoteError as exc:
        print(f"camwatch baseline: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if remote is not None:
        bus, control = remote
        try:
            await control.capture_baseline(cfg.name, user)
        except ControlError as exc:
            print(f"camwatch baseline: {exc}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            await bus.aclose()
        print(f"baseline of {cfg.name} captured by the daemon")
        return 0
    return await _standalone(inventory, cfg, args.seconds, user)


async def _standalone(inventory: Inventory, cfg: CameraConfig, seconds: float, user: str) -> int:
    from ..imaging import frame_hook_for
    from ..probe import probe
    from ..store.db import Store, StoreError
    from ..targets import target_of

    hook = frame_hook_for(cfg)
    result = await probe(target_of(cfg), seconds, frame_hook=hook)
    if result.state.decode.keyframes_decoded == 0:
        print(f"camwatch baseline: no frame: {result.state.reason}", file=sys.stderr)
        return EXIT_FAILED
    baseline = hook.capture_baseline()
    section = dict(inventory.sections.get("store", {}))
    try:
        store = await Store.open(section.get("path"))
    except StoreError as exc:
        print(f"camwatch baseline: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        await store.save_baseline(cfg.name, baseline.to_bytes(), user=user)
    finally:
        await store.close()
    frames = result.state.decode.keyframes_decoded
    print(f"baseline of {cfg.name} saved to {store.path} ({frames} frames)")
    return 0
