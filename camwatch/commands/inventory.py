"""Loading the inventory for a command, with the errors a user can act on."""

from __future__ import annotations

import sys
from pathlib import Path

from ..config import ConfigError, Inventory, load_inventory
from ..paths import default_config_path


def load_or_report(path: Path | None, exit_code: int) -> Inventory | int:
    """The inventory, or `exit_code` after printing every problem to stderr."""
    try:
        inventory = load_inventory(path)
    except ConfigError as exc:
        print(f"camwatch: {len(exc.problems)} problem(s) in the inventory:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return exit_code
    except OSError as exc:
        shown = path or default_config_path()
        print(f"camwatch: cannot read {shown}: {exc.strerror or exc}", file=sys.stderr)
        return exit_code
    for warning in inventory.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return inventory
