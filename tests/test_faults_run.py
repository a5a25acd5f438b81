"""Fault suite, training: SIGTERM stops a run like Ctrl-C (checkpoint at the step it
stopped at, exit 143, how to resume), the same command resumes from that step, and
a second writer is refused while the run trains. (kill -9 during a run:
tests/test_run_resume.py.)"""
from __future__ import annotations

import json
import re
import signal
import time

import pytest

from faults_support import finish, odhelper, stop
from odhelper.rundir import RunDir
from run_support import make_dataset

pytestmark = pytest.mark.slow


def test_sigterm_saves_the_step_and_resumes_there(tmp_path):
    dataset = make_dataset(tmp_path, count=8)
    run_dir = RunDir(tmp_path / "run")
    argv = ["run", "--model", "ssd_mobilenet_v2_cpu", "--steps", "400", "--eval-every", "200",
            "--dataset", dataset, "--run-dir", run_dir.root, "--batch-size", "1",
            "--eval-mode", "none", "--no-export", "--no-report", "--log-every", "1",
            "--set", "model.ssd.image_resizer.fixed_shape_resizer.height=64",
            "--set", "model.ssd.image_resizer.fixed_shape_resizer.width=64"]
    process = odhelper(*argv)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and process.poll() is None and not re.search(
                r"Step [3-9]/400", run_dir.log_file.read_text() if run_dir.log_file.exists()
                else ""):
            time.sleep(0.2)
        assert process.poll() is None, "the run ended before it could be stopped"
        code, text = finish(odhelper(*argv))  # a second writer, while the first trains
        assert code == 1 and f"pid {process.pid} " in text, text
        stop(process, signal.SIGTERM)
        code, text = finish(process)
    finally:
        stop(process)
    assert code == 143, text
    stopped = re.search(r"stopped by SIGTERM at step (\d+), checkpoint saved, re-run the same "
                        r"command to resume", text)
    assert stopped and "Traceback" not in text, text
    step = int(stopped.group(1))
    assert 3 <= step < 200 and run_dir.latest_step() == step  # not a boundary: saved on stop
    records = [json.loads(line) for line in run_dir.timings.read_text().splitlines()]
    assert [r["status"] for r in records if r["stage"] == "Training"] == ["interrupted"]
    argv[argv.index("400")] = str(step + 2)
    code, text = finish(odhelper(*argv), timeout=300)
    assert code == 0, text
    assert f"Continuing {run_dir.root} from step {step} to {step + 2}" in text
    assert run_dir.latest_step() == step + 2
