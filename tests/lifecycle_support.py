"""Helpers of the lifecycle suite (tests/test_lifecycle_*.py): the real CLI in real
processes, a tiny model, folders compared before and after a command."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from faults_support import finish, odhelper

SIZE = 64  # model input side: the tiny configuration
TINY = ["--batch-size", "2", "--log-every", "1",
        "--set", f"model.ssd.image_resizer.fixed_shape_resizer.height={SIZE}",
        "--set", f"model.ssd.image_resizer.fixed_shape_resizer.width={SIZE}"]


def cli(*argv, timeout: float = 600) -> tuple[int, str]:
    """Run `odhelper ARGV` to its end: (exit code, stdout + stderr)."""
    return finish(odhelper(*argv), timeout=timeout)


def ok(*argv, timeout: float = 600) -> str:
    code, text = cli(*argv, timeout=timeout)
    assert code == 0, text[-4000:]
    return text


def wait_for(path: Path, process, seconds: float = 400) -> None:
    """Until `path` exists (the process still running)."""
    deadline = time.time() + seconds
    while not path.exists():
        assert process.poll() is None, finish(process)[1][-4000:]
        assert time.time() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def snapshot(folder: Path, leave_out: tuple[str, ...] = ()) -> dict[str, str]:
    """relative path -> SHA-256 of every file under `folder` but `leave_out` names."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name not in leave_out:
            found[path.relative_to(folder).as_posix()] = hashlib.sha256(
                path.read_bytes()).hexdigest()
    return found


def records(path: Path) -> list[dict]:
    """The JSON lines of `path` ([] when it does not exist)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def stage_records(run_dir: Path, name: str) -> list[dict]:
    return [r for r in records(run_dir / "timings.jsonl") if r.get("stage") == name]
