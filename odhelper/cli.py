"""The `odhelper` command: parse flags, call the library, map errors to exit codes."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from odhelper import __version__
from odhelper.errors import OdhelperError

# One line per sub-command, in the order of the workflow.
COMMANDS = (
    "odhelper.commands.doctor",
    "odhelper.commands.tfrecord",
    "odhelper.commands.config",
    "odhelper.commands.zoo",
    "odhelper.commands.run",
    "odhelper.commands.export",
    "odhelper.commands.evaluate",
    "odhelper.commands.predict",
    "odhelper.commands.report",
    "odhelper.commands.active_learn",
    "odhelper.commands.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="odhelper",
        description="LabelImg pictures -> trained, evaluated, exported TF2 detector.")
    parser.add_argument("--version", action="version", version=f"odhelper {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMANDS:
        module = importlib.import_module(module_name)
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(handler=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except OdhelperError as exc:
        from odhelper import log
        log.error("%s", exc)
        print(f"odhelper {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"odhelper {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
