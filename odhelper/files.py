"""Atomic outputs: write to a temp file next to the target, then rename.

An interrupted run never leaves a half-written record, config or export.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # what open() would have given; mkstemp makes 0600
DIR_MODE = 0o777 & ~_UMASK


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside `target`; rename it onto `target` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp",
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, FILE_MODE)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except OSError as exc:
        raise named(exc, target) from exc
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def named(exc: OSError, path: str | os.PathLike) -> OSError:
    """`exc` itself when it names a file, else the same error naming `path` (a write
    to a full disk names none)."""
    if exc.filename is not None:
        return exc
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))


def remove_leftovers(target: str | os.PathLike) -> None:
    """Remove the temp files `atomic_path` left beside `target` in a killed process."""
    target = Path(target)
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        leftover.unlink(missing_ok=True)


_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}.*\.tmp$")  # what atomic_path/atomic_dir make


def remove_all_leftovers(folder: str | os.PathLike) -> int:
    """Remove every temp file or folder `atomic_path`/`atomic_dir` left in `folder`
    (not below it) in a killed process; how many. Only for a folder whose one writer
    is the caller (it holds the folder's lock)."""
    removed = 0
    for leftover in Path(folder).glob(".*.tmp"):
        if _TEMP_NAME.match(leftover.name):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            removed += 1
    return removed


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike, mode: str = "w", **kwargs: Any):
    """open() that only replaces `target` once the block finished cleanly."""
    with atomic_path(target) as tmp:
        with open(tmp, mode, **kwargs) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())


def write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_open(target, "w", encoding="utf-8") as stream:
        stream.write(text)


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_open(target, "wb") as stream:
        stream.write(data)


_compact = json.JSONEncoder(default=str).encode  # one encoder for every line


def json_text(value: Any, indent: str = "") -> str:
    """Indented JSON in which each item of a list of objects is one compact line:
    readable, and fast (an `indent` makes json use its pure-Python encoder; the
    compact lines go through the C one)."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        fields = [f"{inner}{json.dumps(str(key))}: {json_text(item, inner)}"
                  for key, item in value.items()]
        return "{\n" + ",\n".join(fields) + f"\n{indent}}}"
    if isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list)) for v in value):
        lines = [inner + _compact(item) for item in value]
        return "[\n" + ",\n".join(lines) + f"\n{indent}]"
    return json.dumps(value, default=str)


def write_json(target: str | os.PathLike, data: Any) -> None:
    write_text(target, json_text(data) + "\n")


def plain(value: Any) -> Any:
    """`value` (a dataclass, e.g. a command's options, or what it holds) as YAML/JSON
    types: dicts, lists, strings for paths, enum values."""
    import dataclasses
    import enum

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def write_yaml(target: str | os.PathLike, data: Any) -> None:
    """`data` (e.g. a command's options) as YAML, atomically (run.yaml)."""
    import yaml

    write_text(target, yaml.safe_dump(plain(data), sort_keys=False))


def replace(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move `source` (a file or a folder) onto `target`, replacing what is there; a
    folder is swapped in whole (the old one removed after)."""
    source, target = Path(source), Path(target)
    if target.is_dir() and not target.is_symlink():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(source, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(source, target)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp directory beside `target`; swap it in on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, DIR_MODE)
    try:
        yield tmp
        replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
