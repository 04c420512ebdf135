"""`camwatch config`: validate the inventory and show what camwatch understood."""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_INVALID = 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="inventory file (default: XDG config dir)")


def run(args: argparse.Namespace) -> int:
    from .inventory import load_or_report

    inv = load_or_report(args.config, EXIT_INVALID)
    if isinstance(inv, int):
        return inv
    sites = sorted({c.site for c in inv.cameras if c.site})
    enabled = sum(1 for c in inv.cameras if c.enabled)
    print(f"{inv.path}: {len(inv.cameras)} cameras ({enabled} enabled) in {len(sites)} sites")
    for cam in inv.cameras:
        flags = "" if cam.enabled else "  (disabled)"
        print(
            f"  {cam.name:<24} {cam.site or '-':<12} {cam.transport:<4} {cam.display_url()}{flags}"
        )
    return 0
