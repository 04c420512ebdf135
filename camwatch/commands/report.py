"""`camwatch report`: availability, incidents, MTTR and downtime per camera, worst first.

The figures come from the history database the daemon writes (see
camwatch/store/report.py for the exact definitions). The database is opened
read-only, so a report can run while the daemon writes.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_USAGE = 3

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


class TimeSpecError(ValueError):
    pass


def parse_time(text: str, now: float) -> float:
    """'7d', '12h', '90m', '2w' (ago), or a local date/time '2026-11-01[T08:00]'."""
    m = _SPAN.match(text)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2).lower()]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise TimeSpecError(
            f"{text!r}: expected a span such as 7d, 24h, 90m, 2w or a date such as 2026-11-01"
        ) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="inventory file (store path, cameras' sites/tags)")
    p.add_argument("--db", type=Path, help="history database (default: from the inventory)")
    p.add_argument("--since", default="7d", help="start: 7d, 24h, 2w or a date (default 7d)")
    p.add_argument("--until", default=None, help="end: a span ago or a date (default now)")
    p.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="output format"
    )


def _fail(message: str) -> int:
    print(f"camwatch report: {message}", file=sys.stderr)
    return EXIT_USAGE


def _inventory(path: Path | None) -> tuple[Any | None, str | None]:
    """The inventory if one is given or found; (None, error) if it cannot be used."""
    from ..config import ConfigError, load_inventory
    from ..paths import default_config_path

    if path is None and not default_config_path().exists():
        return None, None
    try:
        return load_inventory(path), None
    except ConfigError as exc:
        return None, "; ".join(exc.problems)
    except OSError as exc:
        return None, f"cannot read {path or default_config_path()}: {exc.strerror or exc}"


def run(args: argparse.Namespace) -> int:
    import asyncio

    now = time.time()
    try:
        since = parse_time(args.since, now)
        until = parse_time(args.until, now) if args.until else now
    except TimeSpecError as exc:
        return _fail(str(exc))
    if until <= since:
        return _fail("--until must be after --since")
    inventory, problem = _inventory(args.config)
    if problem and (args.config is not None or args.db is None):
        # An explicit inventory must be valid; an implicit one only matters without --db.
        return _fail(f"inventory: {problem}")
    if problem:
        print(f"camwatch report: ignoring the inventory ({problem})", file=sys.stderr)
    db = args.db or _db_from(inventory)
    return asyncio.run(_report(db, inventory, since, until, args.format))


def _db_from(inventory: Any | None) -> Path:
    from ..paths import default_db_path

    store = inventory.sections.get("store", {}) if inventory is not None else {}
    return Path(store["path"]) if store.get("path") else default_db_path()


async def _report(db: Path, inventory: Any | None, since: float, until: float, fmt: str) -> int:
    from ..store.db import CameraRecord, SchemaError, Store, StoreError
    from ..store.report import build_report, format_csv, format_json, format_table

    cameras = None
    if inventory is not None:
        cameras = {
            c.name: CameraRecord(c.name, c.site, tuple(c.tags), "", None, None)
            for c in inventory.cameras
        }
    try:
        store = await Store.open(db, readonly=True)
    except (StoreError, SchemaError) as exc:
        return _fail(str(exc))
    try:
        reports = await build_report(store, since, until, cameras)
    except StoreError as exc:
        return _fail(str(exc))
    finally:
        await store.close()
    if fmt == "json":
        sys.stdout.write(format_json(reports, since, until))
    elif fmt == "csv":
        sys.stdout.write(format_csv(reports))
    else:
        span = f"{_local(since)} to {_local(until)}"
        sys.stdout.write(f"Availability {span} ({db})\n\n")
        sys.stdout.write(format_table(reports))
        if not reports:
            sys.stdout.write("\nno camera history in this period\n")
    return EXIT_OK


def _local(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))
