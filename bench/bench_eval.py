"""The full scored evaluation (prints figures; not a test).

    python bench/bench_eval.py [--healthy] [--faults] [--json DIR]

Runs the 10-minute healthy evaluation (16 cameras in two sites with motion,
light steps and ramps, day/night IR switches and hard scenes) and the fault
evaluation (16 cameras, every fault kind 6-7 times on varied scenes, ~10 min)
through the real pipeline, one after the other, and prints each report (see
camwatch/evaluate.py for the scoring rules). Same as
`camwatch eval --scenario eval-healthy` and `--scenario eval-faults`.
Encoding the simulator's loops takes 1-3 minutes of CPU first.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from camwatch.evaluate import evaluate, format_report, report_dict


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--healthy", action="store_true", help="only the healthy run")
    p.add_argument("--faults", action="store_true", help="only the fault run")
    p.add_argument("--json", metavar="DIR", help="also write each report as JSON here")
    p.add_argument(
        "--healthy-interval", type=float, metavar="S", help="every camera's healthy interval"
    )
    args = p.parse_args()
    names = []
    if args.healthy or not args.faults:
        names.append("eval-healthy")
    if args.faults or not args.healthy:
        names.append("eval-faults")
    print(f"# {platform.python_version()} on {platform.machine()}, {time.ctime()}")
    ok = True
    for name in names:
        started = time.perf_counter()
        report = evaluate(name, progress=_progress, healthy_interval=args.healthy_interval)
        print(f"\n## {name} ({time.perf_counter() - started:.0f} s wall)\n")
        print(format_report(report), flush=True)
        if args.json:
            suffix = "" if args.healthy_interval is None else f"-h{args.healthy_interval:g}"
            out = Path(args.json) / f"{name}{suffix}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report_dict(report), indent=1), encoding="utf-8")
        ok = ok and report.passed
    return 0 if ok else 1


def _progress(elapsed: float, total: float, _recorder: object) -> None:
    print(f"  ... {elapsed:.0f}/{total:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
