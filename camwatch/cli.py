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
    ("probe", "camwatch.commands.probe", "check one camera or URL now and report its stream"),
]

EXIT_USAGE = 3  # Nagios "unknown": also used for usage and config errors


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="camwatch",
        description="Terminal-first health monitor for fleets of RTSP cameras.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"camwatch {__version__}")
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
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
