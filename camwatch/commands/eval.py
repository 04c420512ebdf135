"""`camwatch eval`: score the image and stream checks against simulated ground truth.

Runs a simulator scenario (built-in or a TOML file) through the real
monitoring pipeline and prints, per fault type, events detected / injected,
median and worst detection latency, false alarms per camera-hour, and PASS or
FAIL against the goals (see camwatch/evaluate.py for the scoring rules).
Exit status: 0 when every goal is met, 1 when one is not, 3 on usage errors.
"""

from __future__ import annotations

import argparse
import sys

EXIT_FAILED = 1
EXIT_USAGE = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario",
        metavar="NAME|FILE",
        default="eval-short",
        help="eval-healthy, eval-faults, eval-short (default), another built-in, or a TOML file",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        help="minutes to monitor (default: the scenario's, or until its last change + 30 s)",
    )
    parser.add_argument(
        "--healthy-interval",
        type=float,
        metavar="S",
        help="every camera's healthy_sample_interval (default: the configuration default, 4 s)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    import json

    from ..evaluate import evaluate, format_report, report_dict
    from ..sim.scenario import ScenarioError

    if args.minutes is not None and not 0 < args.minutes <= 24 * 60:
        print("camwatch eval: --minutes must be in (0, 1440]", file=sys.stderr)
        return EXIT_USAGE
    if args.healthy_interval is not None and not 0 <= args.healthy_interval <= 3600:
        print("camwatch eval: --healthy-interval must be in [0, 3600] seconds", file=sys.stderr)
        return EXIT_USAGE
    progress = None if args.quiet else _progress
    if not args.quiet:
        print(f"camwatch eval: encoding {args.scenario}...", file=sys.stderr, flush=True)
    try:
        report = evaluate(
            args.scenario,
            None if args.minutes is None else args.minutes * 60.0,
            progress=progress,
            healthy_interval=args.healthy_interval,
        )
    except ScenarioError as exc:
        print(f"camwatch eval: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(report_dict(report), indent=1))
    else:
        print(format_report(report))
    return 0 if report.passed else EXIT_FAILED


def _progress(elapsed: float, total: float, recorder: object) -> None:
    open_ = getattr(recorder, "episodes", [])
    print(
        f"camwatch eval: {elapsed:.0f}/{total:.0f} s, {len(open_)} condition episodes so far",
        file=sys.stderr,
        flush=True,
    )
