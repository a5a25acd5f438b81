"""Logging in the format of 5taku's tensorflow_object_detection_helper_tool, stage timers and JSON timing records.

    [INFO|main.py:24] 2018-06-04 12:18:01,556 > Transfer learning start
    [INFO|main.py:31] 2018-06-04 12:45:52,901 > Transfer learning Success [ Total learning time : 0 Hour 27 Minute 51 Second ]

Every stage also appends one JSON line to `<output dir>/timings.jsonl`.
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

from absl import logging as absl_logging

FORMAT = "[%(levelname)s|%(filename)s:%(lineno)d] %(asctime)s > %(message)s"
LOG_FILE = "odhelper.log"
TIMINGS_FILE = "timings.jsonl"

_state: dict[str, Any] = {"dir": None, "file_handler": None, "formatted": False}
_open_stages: list[str] = []  # names of the stages running now, outermost first

info = absl_logging.info
warning = absl_logging.warning
error = absl_logging.error
debug = absl_logging.debug
exception = absl_logging.exception


def _absl_logger() -> logging.Logger:
    return absl_logging.get_absl_logger()


def setup(output_dir: str | os.PathLike | None = None, verbose: bool = False) -> None:
    """Format absl logging like the original helper tool, on stderr, at INFO (DEBUG
    with `verbose`); with `output_dir`, also into `output_dir/odhelper.log`.

    The command's entry point calls this once; library code changes the target
    only for a while, with `to_dir`."""
    from absl import flags

    if not flags.FLAGS.is_parsed():  # silences "Logging before flag parsing"
        flags.FLAGS.mark_as_parsed()
    handler = absl_logging.get_absl_handler()
    handler.setFormatter(logging.Formatter(FORMAT))
    absl_logging.use_absl_handler()
    absl_logging.set_verbosity(absl_logging.DEBUG if verbose else absl_logging.INFO)
    _state["formatted"] = True
    _point_at(None if output_dir is None else Path(output_dir))


def _point_at(directory: Path | None) -> None:
    """Make `directory` the target of odhelper.log and timings.jsonl (None: stderr only)."""
    logger = _absl_logger()
    if _state["file_handler"] is not None:
        logger.removeHandler(_state["file_handler"])
        _state["file_handler"].close()
    _state.update(dir=None, file_handler=None)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        file_handler = _FileHandler(directory / LOG_FILE, encoding="utf-8")
        file_handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(file_handler)
        _state.update(dir=directory, file_handler=file_handler)


class _FileHandler(logging.FileHandler):
    """odhelper.log; when it cannot be written (a full disk), one line says so and
    the log goes on on the terminal only, instead of a traceback per line."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        _absl_logger().removeHandler(self)
        if _state["file_handler"] is self:
            _state["file_handler"] = None
        print(f"odhelper: {self.baseFilename}: {getattr(error, 'strerror', None) or error}; "
              "logging to the terminal only", file=sys.stderr)


@contextlib.contextmanager
def to_dir(directory: str | os.PathLike) -> Iterator[Path]:
    """Log into `directory` (odhelper.log, timings.jsonl) inside the block; the
    previous target comes back after it, whatever happens inside."""
    if not _state["formatted"]:  # a library caller that never called setup()
        setup()
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
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
        raise
    finally:
        _open_stages.pop()
        seconds = time.perf_counter() - clock
        total = f"[ Total {handle.what} time : {hms(seconds)} ]"
        if status == "success":
            info("%s", f"{name} Success {total} {bracket(handle.extra)}".rstrip())
        else:
            error("%s Failed [ reason : %s ] %s", name, reason, total)
        record({
            "stage": name, "status": status, "reason": reason,
            "start": dt.datetime.fromtimestamp(handle.started).isoformat(timespec="milliseconds"),
            "end": dt.datetime.now().isoformat(timespec="milliseconds"),
            "seconds": round(seconds, 3), "depth": depth, "parent": parent, **handle.fields,
            **handle.extra, **handle.recorded,
        })


class _QuietBar:
    """What progress() returns when there is no terminal to draw on (tqdm not imported)."""

    def __init__(self, iterable: Iterable | None, initial: int = 0):
        self.iterable, self.n = iterable, initial

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
        return _QuietBar(iterable, kwargs.get("initial", 0))
    from tqdm import tqdm

    kwargs.setdefault("disable", None)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


def skip_frames_of(path: str, function: str) -> None:
    """Lines logged through `function` of module `path` name its caller's file:line."""
    absl_logging.ABSLLogger.register_frame_to_skip(path, function)


# Report the caller's file:line, not this module's, for lines written here.
for _function in ("stage", "__exit__", "__enter__"):
    absl_logging.ABSLLogger.register_frame_to_skip(__file__, _function)
absl_logging.ABSLLogger.register_frame_to_skip(contextlib.__file__, "__exit__")
absl_logging.ABSLLogger.register_frame_to_skip(contextlib.__file__, "__enter__")
