"""Command-line entry point: `camwatch <command> ...`.

Each command lives in camwatch/commands/<name>.py with two functions,
`add_arguments(parser)` and `run(args) -> int`. Command modules import their
heavy dependencies (PyAV, Textual, aiosqlite) inside `run`, so `camwatch
--help` and the headless commands start fast and never import Textual.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (command, module, one-line help). Order is the order shown in --help.
COMMANDS: list[tuple[str, str, str]] = [
    ("tui", "camwatch.commands.tui", "the terminal UI (what `camwatch` alone runs)"),
    ("demo", "camwatch.commands.demo", "run camwatch on a simulated fleet (no camera needed)"),
    ("probe", "camwatch.commands.probe", "check one camera or URL now and report its stream"),
    ("snapshot", "camwatch.commands.snapshot", "print one frame of a camera as terminal art"),
    ("baseline", "camwatch.commands.baseline", "make a camera's current view its reference"),
    ("config", "camwatch.commands.config", "validate the camera inventory and list it"),
    ("sim", "camwatch.commands.sim", "serve simulated RTSP cameras with scripted faults"),
    ("report", "camwatch.commands.report", "availability, incidents and MTTR per camera"),
    ("eval", "camwatch.commands.eval", "score image and stream checks against simulated faults"),
    ("check", "camwatch.commands.check", "check every camera once (cron, Nagios): exit 0/1/2"),
    ("daemon", "camwatch.commands.daemon", "monitor continuously: history, alerts, metrics"),
]

EXIT_USAGE = 3  # Nagios "unknown": also used for usage and config errors


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="camwatch",
        description="Terminal-first health monitor for fleets of RTSP cameras.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"camwatch {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log to stderr (-v info, -vv debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name, help_text in COMMANDS:
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors; Nagios wants 3
        code = exc.code if isinstance(exc.code, int) else EXIT_USAGE
        return EXIT_USAGE if code == 2 else code
    _setup_logging(args.verbose)
    module = getattr(args, "_module", None)
    if module is None:  # bare `camwatch`: the TUI on the configured inventory
        args = parser.parse_args(["tui"])
        module = args._module
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `camwatch ... | head`: the reader left; not an error
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _setup_logging(verbosity: int) -> None:
    import logging

    from .redact import redact_text

    class _Redact(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return redact_text(super().format(record))

    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler()
    handler.setFormatter(_Redact("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiortsp's own chatter (requests, replies) only at -vv; still redacted.
    logging.getLogger("camwatch.rtsp.wire").setLevel(
        logging.DEBUG if verbosity >= 2 else logging.WARNING
    )


if __name__ == "__main__":
    sys.exit(main())
