"""Resume: a run killed with SIGKILL continues from its last checkpoint when the
same command is given again; `--steps` is the total and may grow."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from odhelper import cli
from odhelper.rundir import RunDir
from run_support import make_dataset

pytestmark = pytest.mark.slow


def test_killed_run_continues_step_count(tmp_path):
    dataset = make_dataset(tmp_path, count=8)
    run_dir = tmp_path / "run"
    argv = ["run", "--model", "ssd_mobilenet_v2_cpu", "--steps", "30", "--eval-every", "2",
            "--dataset", str(dataset), "--run-dir", str(run_dir), "--batch-size", "1",
            "--eval-mode", "none", "--no-export", "--no-report", "--keep-checkpoints", "50",
            "--set", "model.ssd.image_resizer.fixed_shape_resizer.height=64",
            "--set", "model.ssd.image_resizer.fixed_shape_resizer.width=64"]
    temp = tmp_path / "tmp"  # TensorFlow's autograph files: a SIGKILL leaves them behind
    temp.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "odhelper", *argv],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, env={**os.environ, "TMPDIR": str(temp)})
    try:
        deadline = time.time() + 400
        while RunDir(run_dir).latest_step() < 2 and process.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        killed_at = RunDir(run_dir).latest_step()
        assert process.poll() is None, "the run ended before it could be killed"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert 2 <= killed_at < 30
    argv[argv.index("30")] = "32"  # resumed and grown: --steps is the total
    assert cli.main(argv) == 0
    assert RunDir(run_dir).latest_step() == 32
    log_text = (run_dir / "odhelper.log").read_text()
    resumed = [line for line in log_text.splitlines() if "Resuming from" in line]
    assert resumed and "ckpt-" in resumed[-1]
    resumed_step = int(resumed[-1].rsplit("(step ", 1)[1].rstrip(")"))
    assert resumed_step >= killed_at
    steps = sorted(int(p.name[5:-6]) for p in (run_dir / "checkpoints").glob("ckpt-*.index"))
    assert steps[-1] == 32 and all(s % 2 == 0 for s in steps)
    done = json.loads((run_dir / "train_done.json").read_text())
    assert done["final_step"] == 32
    # the same command again: finished, exit 0, no training
    assert cli.main(argv) == 0
    log_text = (run_dir / "odhelper.log").read_text()
    assert log_text.count("Training start") == 2  # killed run + resumed run
    assert "already finished at step 32" in log_text
