"""Logging in the format of 5taku's tensorflow_object_detection_helper_tool, stage timers and JSON timing records.

    [INFO|main.py:24] 2018-06-04 12:18:01,556 > Transfer learning start
    [INFO|main.py:31] 2018-06-04 12:45:52,901 > Transfer learning Success [ Total learning time : 0 Hour 27 Minute 51 Second ]

Every stage also appends one JSON line to `<output dir>/timings.jsonl`.

odhelper logs on the `odhelper` logger. The command line (`setup`) shows its lines on
the terminal and writes them, with every other library's lines marked `foreign:`
(foreign.py), into odhelper.log; a library caller's logging is left alone: `to_dir`
only adds odhelper.log, with odhelper's own lines, to the `odhelper` logger.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from odhelper import foreign, signals

FORMAT = "[%(levelname)s|%(where)s] %(asctime)s > %(message)s"
LOG_FILE = "odhelper.log"
TIMINGS_FILE = "timings.jsonl"
FILE_ONLY = {"file_only": True}  # extra= of a record the terminal leaves out

_LOGGER = logging.getLogger(foreign.OWN)
_SKIPPED_FILES = {__file__, contextlib.__file__}  # frames a line is never attributed to
_SKIPPED_FUNCTIONS: set[tuple[str, str]] = set()  # (file, function): see skip_frames_of
_state: dict[str, Any] = {"dir": None, "file_handler": None, "terminal": None,
                          "host": None}
_open_stages: list[str] = []  # names of the stages running now, outermost first


def _log(level: int, message: str, args: tuple, kwargs: dict) -> None:
    """Log on the `odhelper` logger, naming the first caller outside this module and
    contextlib (a stage's lines name the `with log.stage(...)` line)."""
    if not _LOGGER.isEnabledFor(level):
        return
    frame, depth = sys._getframe(2), 3  # noqa: SLF001 - 3: the caller of info() & co.
    while frame is not None and (frame.f_code.co_filename in _SKIPPED_FILES or (
            frame.f_code.co_filename, frame.f_code.co_name) in _SKIPPED_FUNCTIONS):
        frame, depth = frame.f_back, depth + 1
    _LOGGER.log(level, message, *args, stacklevel=depth, **kwargs)


def skip_frames_of(path: str, function: str) -> None:
    """Lines logged through `function` of module `path` name its caller's file:line."""
    _SKIPPED_FUNCTIONS.add((path, function))


def debug(message: str, *args: Any, **kwargs: Any) -> None:
    _log(logging.DEBUG, message, args, kwargs)


def info(message: str, *args: Any, **kwargs: Any) -> None:
    _log(logging.INFO, message, args, kwargs)


def warning(message: str, *args: Any, **kwargs: Any) -> None:
    _log(logging.WARNING, message, args, kwargs)


def error(message: str, *args: Any, **kwargs: Any) -> None:
    _log(logging.ERROR, message, args, kwargs)


def exception(message: str, *args: Any, **kwargs: Any) -> None:
    _log(logging.ERROR, message, args, {"exc_info": True, **kwargs})


class _Formatter(logging.Formatter):
    """The original helper tool's format; lines of other libraries are marked
    `[INFO|foreign:config_util.py:552]`, caught output `[INFO|foreign:stdout]`."""

    def __init__(self):
        super().__init__(FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        where = f"{record.filename}:{record.lineno}"
        if record.name.startswith(foreign.FOREIGN + "."):
            where = "foreign:" + record.name[len(foreign.FOREIGN) + 1:]
        elif not foreign.is_own(record):
            where = "foreign:" + where
        record.where = where
        return super().format(record)


class _Terminal(logging.Handler):
    """stderr (as it is at each line: tests swap it), through tqdm.write while a
    progress bar may be drawn so that a line never lands on the bar's line. Shows
    odhelper's own lines; other libraries' only with -v, or when they are errors."""

    def __init__(self, verbose: bool):
        super().__init__()
        self.verbose = verbose
        self.setFormatter(_Formatter())

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "file_only", False):
            return False
        return foreign.is_own(record) or self.verbose or record.levelno >= logging.ERROR

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if "tqdm" in sys.modules:
                sys.modules["tqdm"].tqdm.write(text, file=sys.stderr)
            else:
                sys.stderr.write(text + "\n")
                sys.stderr.flush()
        except Exception:  # noqa: BLE001 - as logging.StreamHandler does
            self.handleError(record)


def setup(output_dir: str | os.PathLike | None = None, verbose: bool = False) -> None:
    """The command line's logging (an entry point calls this once, a library never):
    the terminal shows odhelper's lines at INFO (DEBUG with `verbose`); odhelper.log
    also gets every other library's lines, marked foreign; with `output_dir`, the
    log goes there now. Library code changes the folder only for a while, with `to_dir`."""
    root = logging.getLogger()
    if _state["terminal"] is not None:
        root.removeHandler(_state["terminal"])
    _state["terminal"] = _Terminal(verbose)
    root.addHandler(_state["terminal"])
    root.setLevel(logging.INFO)  # other libraries' INFO lines reach odhelper.log
    _LOGGER.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(True)  # deprecation warnings: records of `py.warnings`
    foreign.quiet_tensorflow_import()
    _point_at(None if output_dir is None else Path(output_dir))


def verbose() -> bool:
    """Whether odhelper logs at DEBUG (odhelper -v)."""
    return _LOGGER.isEnabledFor(logging.DEBUG)


def _point_at(directory: Path | None) -> None:
    """Make `directory` the target of odhelper.log and timings.jsonl (None: none).
    Under `setup` the file takes every record (the root logger's); for a library
    caller only odhelper's own (its logger's), at INFO, while the host's handlers go
    on getting exactly what its levels let through (`_Host`)."""
    handler, host = _state["file_handler"], _state["host"]
    if handler is not None:
        handler.logger.removeHandler(handler)
        handler.close()
    if host is not None:
        _LOGGER.removeHandler(host)
        _LOGGER.propagate = True
        _LOGGER.setLevel(logging.NOTSET)
    _state.update(dir=None, file_handler=None, host=None)
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    handler = _FileHandler(directory / LOG_FILE, encoding="utf-8")
    handler.setFormatter(_Formatter())
    handler.logger = logging.getLogger() if _state["terminal"] is not None else _LOGGER
    if handler.logger is _LOGGER and _LOGGER.level == logging.NOTSET and \
            _LOGGER.getEffectiveLevel() > logging.INFO:  # the host set no level for us
        _state["host"] = _Host(_LOGGER.getEffectiveLevel())
        _LOGGER.addHandler(_state["host"])
        _LOGGER.propagate = False
        _LOGGER.setLevel(logging.INFO)
    handler.logger.addHandler(handler)
    _state.update(dir=directory, file_handler=handler)


class _Host(logging.Handler):
    """A library caller's handlers, as if the `odhelper` logger still propagated at
    the level it had: odhelper.log gets INFO lines, the host no more than before."""

    def emit(self, record: logging.LogRecord) -> None:
        if _LOGGER.parent is not None:
            _LOGGER.parent.handle(record)


class _FileHandler(logging.FileHandler):
    """odhelper.log; when it cannot be written (a full disk), one line says so and
    the log goes on on the terminal only, instead of a traceback per line."""

    logger: logging.Logger

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        self.logger.removeHandler(self)
        if _state["file_handler"] is self:
            _state["file_handler"] = None
        print(f"odhelper: {self.baseFilename}: {getattr(error, 'strerror', None) or error}; "
              "logging to the terminal only", file=sys.stderr)


@contextlib.contextmanager
def to_dir(directory: str | os.PathLike) -> Iterator[Path]:
    """Log into `directory` (odhelper.log, timings.jsonl) inside the block; the
    previous target comes back after it, whatever happens inside."""
    previous = _state["dir"]
    directory = Path(directory)
    if directory == previous:
        yield directory
        return
    _point_at(directory)
    try:
        yield directory
    finally:
        _point_at(previous)


def output_dir() -> Path | None:
    """The directory that receives odhelper.log and timings.jsonl, if set."""
    return _state["dir"]


def hms(seconds: float) -> str:
    """'0 Hour 27 Minute 51 Second', as the original helper tool printed durations."""
    whole = int(round(seconds))
    return f"{whole // 3600} Hour {whole % 3600 // 60} Minute {whole % 60} Second"


def bracket(fields: dict[str, Any]) -> str:
    """'[ model : ssd, num steps : 10 ]' as in the original helper tool's lines."""
    if not fields:
        return ""
    return "[ " + ", ".join(f"{k} : {v}" for k, v in fields.items()) + " ]"


def record(entry: dict[str, Any]) -> None:
    """Append one JSON line to timings.jsonl in the output dir (if any)."""
    directory = _state["dir"]
    if directory is None:
        return
    path = directory / TIMINGS_FILE
    try:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry, default=str) + "\n")
    except OSError as exc:  # a full disk must not hide what the stage did
        warning("%s: %s; stage %r not recorded", path, exc.strerror or exc, entry.get("stage"))


class Stage:
    """Mutable handle of a running stage: `extra` fields go on the success line and
    into the JSON record, `recorded` ones into the JSON record only."""

    def __init__(self, name: str, what: str, fields: dict[str, Any]):
        self.name, self.what, self.fields = name, what, dict(fields)
        self.extra: dict[str, Any] = {}
        self.recorded: dict[str, Any] = {}
        self.started = time.time()


@contextlib.contextmanager
def stage(name: str, what: str | None = None, **fields: Any) -> Iterator[Stage]:
    """Log `<name> start`, then `<name> Success [ Total <what> time : ... ]` or
    `<name> Failed [...]`, and append a JSON record either way (with its depth and
    the stage it runs in: stages nest, and a parent's time is its children's plus
    what it does itself).

    Put result fields (metrics, counts) on `handle.extra` inside the block.
    """
    handle = Stage(name, what or name, fields)
    info("%s", f"{name} start {bracket(fields)}".rstrip())
    clock = time.perf_counter()
    status, reason = "success", None
    depth, parent = len(_open_stages), (_open_stages[-1] if _open_stages else None)
    _open_stages.append(name)
    try:
        yield handle
    except BaseException as exc:  # noqa: B902 - also Ctrl-C: record, then re-raise
        stop = signals.stop_behind(exc)
        status = "interrupted" if stop else "failed"
        reason = f"{type(stop or exc).__name__}: {stop or exc}".rstrip(": ")
        raise
    finally:
        _open_stages.pop()
        seconds = time.perf_counter() - clock
        total = f"[ Total {handle.what} time : {hms(seconds)} ]"
        if status == "success":
            info("%s", f"{name} Success {total} {bracket(handle.extra)}".rstrip())
        else:
            # the command reports the error itself, once: this line is for odhelper.log
            error("%s Failed [ reason : %s ] %s", name, reason, total, extra=FILE_ONLY)
        record({
            "stage": name, "status": status, "reason": reason,
            "start": dt.datetime.fromtimestamp(handle.started).isoformat(timespec="milliseconds"),
            "end": dt.datetime.now().isoformat(timespec="milliseconds"),
            "seconds": round(seconds, 3), "depth": depth, "parent": parent, **handle.fields,
            **handle.extra, **handle.recorded,
        })


class _QuietBar:
    """What progress() returns when there is no terminal to draw on (tqdm not imported)."""

    def __init__(self, iterable: Iterable | None, initial: int = 0, total: int | None = None):
        self.iterable, self.n, self.total = iterable, initial, total

    def __iter__(self):
        return iter(self.iterable)

    def update(self, count: int = 1) -> None:
        self.n += count

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        pass


def progress(iterable: Iterable | None = None, **kwargs: Any):
    """A tqdm progress bar on stderr, quiet when stderr is not a terminal."""
    if not sys.stderr.isatty() and kwargs.get("disable") is not False:
        return _QuietBar(iterable, kwargs.get("initial", 0), kwargs.get("total"))
    from tqdm import tqdm

    kwargs.setdefault("disable", None)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)
