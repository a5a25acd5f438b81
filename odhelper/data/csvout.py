"""train.csv / validate.csv in the classic layout, written with pandas.

Importing pandas costs ~0.35 s of CPU, a sixth of a 10,000-image conversion. So
when it is safe to fork, a helper process is forked at start-up: it imports
pandas and writes the CSVs at idle priority, on whatever CPU time the
converter leaves unused (while the parent walks the input or plans the split,
one core is idle), and the parent waits for it only before dataset.json.
Otherwise (TensorFlow or other threads in this process) the CSVs are written here.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from pathlib import Path

from odhelper import files, signals
from odhelper.data import split

# How long `finish` waits for a helper still busy, with normal priority or idle.
LIFTED_SECONDS, IDLE_SECONDS = 60.0, 2.0
COLUMNS = ["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax", "path"]


def rows(items) -> list[tuple]:
    """The classic columns (filename = the picture's name), then `path`, unique when
    sub-folders repeat a name; sorted by path."""
    return [(i.image_name.rsplit("/", 1)[-1], i.width, i.height, b.name, b.xmin, b.ymin,
             b.xmax, b.ymax, i.image_name)
            for i in sorted(items, key=lambda i: i.image_name) for b in i.boxes]


def write(table: list[tuple], path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(table, columns=COLUMNS)
    for column in ("xmin", "ymin", "xmax", "ymax"):
        values = frame[column]
        if len(values) and (values == values.round()).all():
            frame[column] = values.astype(int)
    with files.atomic_path(path) as temp:
        frame.to_csv(temp, index=False)


def _idle_priority() -> None:
    """Run only on CPU time nobody else wants (Linux SCHED_IDLE, else the lowest nice)."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.nice(19)
        except OSError:
            pass


def _normal_priority(pid: int) -> bool:
    try:
        os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
        return True
    except (AttributeError, OSError):
        return False


def _serve(conn, parent_end, parent_pid: int) -> None:
    """The helper: import pandas now, then write the CSVs it is sent."""
    signals.die_with_parent(parent_pid)
    parent_end.close()  # so that a dead parent means EOF here
    _idle_priority()
    split.import_numpy()  # with one OpenBLAS thread, for pandas
    import pandas  # noqa: F401 - the point of the helper: imported ahead of time

    try:
        jobs = conn.recv()
    except (EOFError, OSError):
        return
    try:
        for table, path in jobs:
            write(table, path)
        reply = None
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which retries
        reply = f"{type(exc).__name__}: {exc}"
    try:
        conn.send(reply)
    except OSError:  # the parent stopped (Ctrl-C) and closed its end
        pass


def _fork_is_safe() -> bool:
    return ("tensorflow" not in sys.modules and threading.active_count() == 1
            and "fork" in multiprocessing.get_all_start_methods())


class CsvWriter:
    """Start early; `submit` the tables; `finish` before dataset.json; `close` always."""

    def __init__(self):
        self._conn = self._process = None
        self._jobs: list[tuple[list[tuple], Path]] = []
        self._sent = False
        if _fork_is_safe():
            context = multiprocessing.get_context("fork")
            parent_end, child_end = context.Pipe()
            self._process = context.Process(target=_serve,
                                            args=(child_end, parent_end, os.getpid()),
                                            daemon=True, name="odhelper-csv")
            with signals.deferred():
                self._process.start()
            child_end.close()
            self._conn = parent_end

    def submit(self, jobs: list[tuple[list[tuple], Path]]) -> None:
        self._jobs = jobs
        if self._conn is not None:
            try:
                self._conn.send(jobs)
                self._sent = True
                return
            except (OSError, ValueError):
                self.close()

    def finish(self) -> None:
        """Wait for the helper; write here whatever it could not."""
        reply = "no helper" if self._conn is None else self._reply()
        self.close(wait=reply is None)
        if reply is not None:
            for table, path in self._jobs:
                files.remove_leftovers(path)  # a killed helper's
                write(table, path)

    def _reply(self):
        """None once the helper wrote the CSVs, else why not. A helper still busy is
        given normal priority where that is allowed (root, CAP_SYS_NICE); where not,
        and other programs keep the CPUs busy, an idle-priority process may get no
        time at all, so after a grace period the CSVs are written here instead."""
        try:
            if not self._conn.poll(0):
                patience = LIFTED_SECONDS if _normal_priority(self._process.pid) \
                    else IDLE_SECONDS
                if not self._conn.poll(patience):
                    return f"no answer from the helper in {patience:g} s"
            return self._conn.recv()
        except (EOFError, OSError):
            return "the helper process died"

    def close(self, wait: bool = True) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(timeout=5 if self._sent and wait else 0)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._process = None
