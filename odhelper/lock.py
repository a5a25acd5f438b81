"""One folder, one writer: an advisory lock on a run directory or a dataset folder.

    with lock.held(folder, "run"):
        ...  # a second odhelper process on `folder` is refused at once

The lock is `flock` on FOLDER/.odhelper.lock, which names its holder (pid, host,
command, since when). The kernel releases it when the holder dies, however it dies,
so a lock left by a killed process is simply free again: the next holder takes it
over and notes whose it was. Within one process the lock is reentrant (a run that
`active-learn` or `demo` started under its own lock may lock the same folder again).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import sys
from pathlib import Path
from typing import Iterator

from odhelper import log
from odhelper.errors import OdhelperError

LOCK_FILE = ".odhelper.lock"

_held: dict[Path, list] = {}  # lock path -> [open file, depth], in this process


class FolderBusy(OdhelperError):
    """Another process holds the folder's lock."""


def holder_text(record: dict) -> str:
    return (f"pid {record.get('pid', '?')} on {record.get('host', '?')}, "
            f"`{record.get('command', '?')}`, since {record.get('since', '?')}")


def _read_record(stream) -> dict:
    stream.seek(0)
    try:
        record = json.loads(stream.read() or "{}")
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _acquire(path: Path, command: str):
    """The open, flock-ed lock file (its inode still the one at `path`)."""
    while True:
        stream = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_record(stream)
            stream.close()
            raise FolderBusy(f"{path.parent}: in use by another odhelper process "
                             f"({holder_text(holder)}); wait for it to finish or stop it, "
                             "then run this command again") from None
        except OSError:
            stream.close()
            raise
        try:  # the holder before us may have removed the file while we waited
            same = os.stat(path).st_ino == os.fstat(stream.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        stream.close()
    previous = _read_record(stream)
    if previous.get("pid"):
        log.warning("%s: took over the lock of a process that is gone (%s)", path.parent,
                    holder_text(previous))
    stream.seek(0)
    stream.truncate()
    stream.write(json.dumps({
        "pid": os.getpid(), "host": socket.gethostname(),
        "command": f"{command}: " + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "since": dt.datetime.now().isoformat(timespec="seconds")}) + "\n")
    stream.flush()
    return stream


@contextlib.contextmanager
def held(folder: str | os.PathLike, command: str) -> Iterator[Path]:
    """Hold FOLDER's lock inside the block (the folder is created when missing)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = (folder / LOCK_FILE).resolve()
    if path in _held:  # this process already holds it
        _held[path][1] += 1
        try:
            yield folder
        finally:
            _held[path][1] -= 1
        return
    _held[path] = [_acquire(path, command), 1]
    try:
        yield folder
    finally:
        stream = _held.pop(path)[0]
        with contextlib.suppress(OSError):
            path.unlink()  # while still locked: a waiting process sees a new inode
        stream.close()
