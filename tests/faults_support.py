"""Helpers of the fault suite (tests/test_faults_*.py): real odhelper processes,
started, signalled and killed; their children; a small filesystem to fill."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from odhelper.data import recordio

ROOT = Path(__file__).resolve().parents[1]


def _as_from_a_terminal() -> None:
    """Ctrl-C's default in the child: a suite started in the background (nohup, `&`)
    passes SIGINT on ignored, and Python then leaves it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def odhelper(*argv, **kwargs) -> subprocess.Popen:
    """`python -m odhelper ARGV` of this checkout, in its own process group (a tfrecord
    leaves the checkout's label_maps/ alone), with Ctrl-C as a terminal delivers it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if "tfrecord" in argv:
        argv = (*argv, "--no-copy-label-map")
    return subprocess.Popen([sys.executable, "-m", "odhelper", *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True,
                            preexec_fn=_as_from_a_terminal, **kwargs)


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    """Exit code and stdout + stderr of a process started with `odhelper`."""
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def children(pid: int) -> set[int]:
    """Every descendant of `pid` alive now (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    return False


def wait_gone(pids: set[int], seconds: float = 10) -> set[int]:
    """The pids still alive after up to `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return {p for p in pids if alive(p)}


def records_read_back(folder: Path) -> int:
    """Every record of every `*.record` under its final name, CRCs checked; how many."""
    return sum(1 for shard in sorted(folder.glob("*.record"))
               for _ in recordio.read_records(shard))


def stop(process: subprocess.Popen, number: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, number)


@contextlib.contextmanager
def small_filesystem(folder: Path, size: str = "2m", options: str = ""):
    """A tmpfs of `size` mounted on `folder` (root needed); skips where it cannot be."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size}{',' + options if options else ''}",
             "tmpfs", str(folder)]
    done = subprocess.run(mount, capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
