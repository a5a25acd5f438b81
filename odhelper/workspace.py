"""Open a folder for writing: the one place that does a command's entry duties.

    with workspace.opened(folder, "run", options, options_file, stage=("Program", "program"),
                          has_work=lambda: ...) as opened:
        ...

The first open of a folder in a process takes the folder's lock, points the log
(odhelper.log, timings.jsonl) at the folder, writes the options YAML once and opens
the command's top stage. Opening a folder this process already holds (run ->
export -> evaluate -> report) only opens the stage. A folder opened inside another
one (`log_here=False`: a dataset made by `run -i`) is locked, but the log stays
where the outer command logs, so that command's timings.jsonl holds every second; a
run folder always logs into itself (its report reads its own timings).

`check` runs under the lock, inside the top stage and before the options YAML is
written: a command it refuses rewrites nothing (its log lines are appended). When the command fails before doing its work (`has_work()`
is false), a folder this open created is removed again; a folder that existed is
left as it was.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from odhelper import files, lock, log

_open: dict[Path, "Opened"] = {}  # resolved folder -> its open, in this process


@dataclass
class Opened:
    folder: Path
    command: str
    created: bool  # this open made the folder
    outermost: bool  # no other folder was open in this process when it was opened
    stage: Any = None  # the log.Stage this open started (put result fields on .extra)


def held(folder: str | os.PathLike) -> bool:
    """Whether this process has `folder` open for writing."""
    return Path(folder).resolve() in _open


@contextlib.contextmanager
def opened(folder: str | os.PathLike, command: str, options: Any = None,
           options_file: str | os.PathLike | None = None,
           stage: tuple[str, str] | None = None, check: Callable[[], None] | None = None,
           has_work: Callable[[], bool] | None = None,
           stage_fields: dict | None = None, log_here: bool | None = None) -> Iterator[Opened]:
    folder = Path(folder)
    key = folder.resolve()
    if key in _open:  # nested: the outer open did the duties
        with _stage(stage, stage_fields) as handle:
            yield Opened(folder, command, False, False, handle)
        return
    created = not folder.exists()
    outermost = not _open
    log_here = outermost if log_here is None else log_here
    current = Opened(folder, command, created, outermost)
    try:
        with lock.held(folder, command):
            _open[key] = current
            try:
                logging_here = log.to_dir(folder) if log_here else contextlib.nullcontext()
                with logging_here, _stage(stage, stage_fields) as current.stage:
                    if check is not None:
                        check()
                    if options is not None and options_file is not None and log_here:
                        files.write_yaml(options_file, options)
                    yield current
            finally:
                _open.pop(key, None)
    except BaseException:
        if created and not (has_work and _safe(has_work)):
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _safe(predicate: Callable[[], bool]) -> bool:
    try:
        return bool(predicate())
    except OSError:
        return False


@contextlib.contextmanager
def _stage(stage: tuple[str, str] | None, fields: dict | None):
    if stage is None:
        yield None
        return
    with log.stage(stage[0], stage[1], **(fields or {})) as handle:
        yield handle


# Log lines of the stages opened here name the caller's file:line, not this module's.
for _function in ("opened", "_stage"):
    log.skip_frames_of(__file__, _function)
