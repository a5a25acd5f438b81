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
    "odhelper.commands.augment_preview",
    "odhelper.commands.active_learn",
    "odhelper.commands.audit",
    "odhelper.commands.demo",
)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the command named in `argv` gets its arguments (importing
    every command's options would slow down each start-up)."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="odhelper",
        description="LabelImg pictures -> trained, evaluated, exported TF2 detector.")
    parser.add_argument("--version", action="version", version=f"odhelper {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = [importlib.import_module(name) for name in COMMANDS]  # NAME, HELP: cheap
    chosen = next((word for word in argv if word in {m.NAME for m in modules}), None)
    for module in modules:
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        if module.NAME == chosen:
            options = module.options_class()
            if options is not None:
                from odhelper.options.fields import add_arguments
                add_arguments(command, options)
            else:
                module.add_arguments(command)
        command.set_defaults(module=module)
    first = next((word for word in argv if not word.startswith("-")), None)
    if chosen is None and first is not None:
        import difflib

        close = difflib.get_close_matches(first, [m.NAME for m in modules], n=1, cutoff=0.6)
        if close:
            parser.error(f"unknown command '{first}'; did you mean '{close[0]}'?")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    from odhelper import log, signals

    log.setup(verbose=args.verbose)
    signals.stop_on_sigterm()
    module = args.module
    try:
        options_class = module.options_class()
        if options_class is None:
            return int(module.run(args) or 0)
        from odhelper.options.fields import from_namespace
        return int(module.run(from_namespace(options_class, args)) or 0)
    except BaseException as exc:  # noqa: B902 - a stop first: it may have caused the error
        stop = signals.stop_behind(exc)
        if stop is not None:
            message = f"stopped by {signals.how_stopped(stop)}"
            log.warning("%s: %s", args.command, message, extra=log.FILE_ONLY)
            print(f"odhelper {args.command}: {message}", file=sys.stderr)
            return signals.exit_code(stop)
        if isinstance(exc, OdhelperError):
            return _failed(args, str(exc), exc.exit_code)
        if isinstance(exc, OSError):  # the environment: full disk, read-only folder, ...
            return _failed(args, environment_message(exc), 1)
        if isinstance(exc, MemoryError):
            return _failed(args, "out of memory (try fewer --workers or a smaller --batch-size)", 1)
        raise


def environment_message(exc: OSError) -> str:
    """'PATH: errno text' (one line; the path is the one the system named)."""
    import errno
    import os

    reason, where = exc.strerror or str(exc), exc.filename2 or exc.filename
    if exc.errno in (errno.EEXIST, errno.ENOTDIR) and where and not os.path.isdir(where):
        reason += " (a file is where a folder is needed)"
    return f"{where}: {reason}" if where else reason


def _failed(args, message: str, code: int) -> int:
    """The one-line reason on stderr, once (the traceback before it under -v; the
    log file, if one is still open, gets the line too); return `code`."""
    import traceback

    from odhelper import log

    log.error("%s", message, exc_info=args.verbose, extra=log.FILE_ONLY)
    if args.verbose:
        traceback.print_exc()
    print(f"odhelper {args.command}: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
