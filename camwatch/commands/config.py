"""`camwatch config`: validate the inventory and show what camwatch understood."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_INVALID = 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="inventory file (default: XDG config dir)")


def run(args: argparse.Namespace) -> int:
    from ..config import ConfigError, load_inventory
    from ..paths import default_config_path

    path = args.config or default_config_path()
    try:
        inv = load_inventory(args.config)
    except ConfigError as exc:
        print(f"camwatch: {len(exc.problems)} problem(s) in the inventory:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"camwatch: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID
    for warning in inv.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    sites = sorted({c.site for c in inv.cameras if c.site})
    enabled = sum(1 for c in inv.cameras if c.enabled)
    print(f"{inv.path}: {len(inv.cameras)} cameras ({enabled} enabled) in {len(sites)} sites")
    for cam in inv.cameras:
        flags = "" if cam.enabled else "  (disabled)"
        print(
            f"  {cam.name:<24} {cam.site or '-':<12} {cam.transport:<4} {cam.display_url()}{flags}"
        )
    return 0
