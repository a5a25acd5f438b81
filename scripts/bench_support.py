"""What the benchmark scripts share: a work folder and `odhelper` as a child process."""
from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"


@contextlib.contextmanager
def work_folder(keep: Path | None, prefix: str):
    """`keep`, or a temporary folder removed at the end."""
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    try:
        yield work
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def odhelper(*args: str, log: Path) -> float:
    """Run `odhelper ARGS` with its output in `log`; its seconds. Exits on a failure."""
    started = time.perf_counter()
    with open(log, "w") as stream:
        done = subprocess.run([sys.executable, "-m", "odhelper", *args], stdout=stream,
                              stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        raise SystemExit(f"odhelper {' '.join(args)} failed ({done.returncode}): see {log}")
    return time.perf_counter() - started
