"""Fault suite, one folder one writer: a second writer is refused naming the holder;
a dead holder's lock is taken over; the lock is reentrant in one process."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from faults_support import ROOT, finish, odhelper, stop
from odhelper import cli, lock
from odhelper.rundir import RunDir
from run_support import make_dataset, make_pictures

HOLD = ("import sys, time\nfrom odhelper import lock\n"
        "with lock.held(sys.argv[1], 'run'):\n    print('held', flush=True)\n    time.sleep(120)\n")


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of tmp_path/busy."""
    folder = tmp_path / "busy"
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], text=True,
                               stdout=subprocess.PIPE, env={"PYTHONPATH": str(ROOT)})
    assert process.stdout.readline().strip() == "held"
    yield folder, process
    stop(process)
    process.wait()


def _refused(text: str, process) -> bool:
    return (f"pid {process.pid} on {socket.gethostname()}" in text and "since " in text
            and "odhelper process" in text and "Traceback" not in text)


def test_second_tfrecord_and_run_are_refused_naming_the_holder(holder, tmp_path):
    folder, process = holder
    pictures = make_pictures(tmp_path / "pictures", 4, 32)
    started = time.time()
    code, text = finish(odhelper("tfrecord", "-i", pictures, "-o", folder))
    assert code == 1 and _refused(text, process), text
    dataset = make_dataset(tmp_path / "data")  # a missing one is refused before the lock
    code, text = finish(odhelper("run", "--model", "ssd_mobilenet_v2_cpu", "--steps", "1",
                                 "--dataset", dataset, "--run-dir", folder))
    assert code == 1 and _refused(text, process), text
    assert time.time() - started < 30  # at once, not after waiting
    assert not (folder / "dataset.json").exists() and not (folder / "run.yaml").exists()


@pytest.mark.parametrize("command", ["export", "evaluate", "active-learn"])
def test_export_evaluate_active_learn_refused(holder, tmp_path, command, capsys):
    folder, process = holder
    RunDir(folder).pipeline_config.write_text("")  # looks like a run directory
    argv = {"export": ["export", "--run-dir", folder],
            "evaluate": ["evaluate", "--run-dir", folder],
            "active-learn": ["active-learn", "-i", tmp_path, "--pool", tmp_path,
                             "--run-dir", folder]}[command]
    assert cli.main([str(a) for a in argv]) == 1
    assert _refused(capsys.readouterr().err, process)


def test_lock_of_a_killed_process_is_taken_over(holder, tmp_path):
    folder, process = holder
    stop(process)  # kill -9: the lock file stays, naming a process that is gone
    process.wait()
    assert (folder / lock.LOCK_FILE).exists()
    pictures = make_pictures(tmp_path / "pictures", 4, 32)
    code, text = finish(odhelper("tfrecord", "-i", pictures, "-o", folder, "--workers", "1"))
    assert code == 0, text
    assert f"took over the lock of a process that is gone (pid {process.pid}" in text
    assert not (folder / lock.LOCK_FILE).exists()


def test_lock_is_reentrant_within_one_process(tmp_path):
    with lock.held(tmp_path, "active-learn"):
        with RunDir(tmp_path).locked("run"):
            assert (tmp_path / lock.LOCK_FILE).exists()
        assert (tmp_path / lock.LOCK_FILE).exists()  # still the outer holder's
    assert not (tmp_path / lock.LOCK_FILE).exists()
    with lock.held(tmp_path, "run"):  # free again
        pass
