"""Fault suite, tfrecord: kill -9 at random moments, Ctrl-C, SIGTERM, a killed run's
leftovers. Real `odhelper tfrecord` processes with a pool of 2 workers."""
from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest

from faults_support import (children, finish, odhelper, records_read_back, stop,
                            wait_gone)
from odhelper import lock
from run_support import make_pictures

PICTURES = 200


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    return make_pictures(tmp_path_factory.mktemp("faults") / "pictures", PICTURES, 160)


def _start(pictures, output, seed: int = 3):
    return odhelper("tfrecord", "-i", pictures, "-o", output, "--workers", "2", "--seed",
                    str(seed))


def _wait_for_workers(process, count: int = 2, seconds: float = 30) -> set[int]:
    deadline = time.time() + seconds
    while time.time() < deadline and process.poll() is None:
        found = children(process.pid)
        if len(found) >= count:
            return found
        time.sleep(0.02)
    pytest.fail("the tfrecord pool did not start")


def _temp_files(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_kill_9_at_random_moments_leaves_no_orphans_and_no_bad_record(pictures, tmp_path):
    output, rng = tmp_path / "dataset", random.Random(16)
    for _ in range(3):
        process = _start(pictures, output)
        _wait_for_workers(process)
        time.sleep(rng.uniform(0.0, 1.0))
        family = children(process.pid)
        stop(process)  # SIGKILL, to the parent alone
        process.wait()
        assert not wait_gone(family), "worker processes outlived their killed parent"
        records_read_back(output)  # raises on a truncated or corrupt record
    code, text = finish(_start(pictures, output))
    assert code == 0, text
    content = json.loads((output / "dataset.json").read_text())
    assert records_read_back(output) == PICTURES == sum(
        side["images"] for side in content["splits"].values())
    assert _temp_files(output) == [] and not (output / lock.LOCK_FILE).exists()


@pytest.mark.parametrize("how, code", [("Ctrl-C", 130), ("SIGTERM", 143)])
def test_stopped_tfrecord_says_one_line_and_keeps_the_previous_dataset(pictures, tmp_path,
                                                                       how, code):
    output = tmp_path / "dataset"
    assert finish(_start(pictures, output, seed=1))[0] == 0
    previous = (output / "dataset.json").read_bytes()
    process = _start(pictures, output)  # another seed: a new split replaces it
    family = _wait_for_workers(process)
    if how == "Ctrl-C":  # the terminal signals the whole foreground process group
        os.killpg(process.pid, signal.SIGINT)
    else:  # kill, Docker and schedulers signal the main process
        stop(process, signal.SIGTERM)
    returned, text = finish(process)
    assert returned == code, text
    assert "Traceback" not in text and f"stopped by {how}" in text, text
    assert not wait_gone(family)
    assert _temp_files(output) == [] and not list(output.glob(".staging-*"))
    assert (output / "dataset.json").read_bytes() == previous  # still the usable dataset
    assert records_read_back(output) == PICTURES
    status = [json.loads(line)["status"] for line in
              (output / "timings.jsonl").read_text().splitlines()]
    assert status == ["success", "interrupted"]


def test_stopped_tfrecord_removes_the_folder_it_created(pictures, tmp_path):
    output = tmp_path / "dataset"
    process = _start(pictures, output)
    _wait_for_workers(process)
    stop(process, signal.SIGTERM)
    returned, text = finish(process)
    assert returned == 143 and "stopped by SIGTERM" in text, text
    assert not output.exists()


def test_leftovers_of_a_killed_run_are_removed(tmp_path):
    from odhelper.data.build import build_dataset
    from odhelper.options.data import TfrecordOptions

    pictures = make_pictures(tmp_path / "pictures", 6, 48)
    output = tmp_path / "dataset"
    output.mkdir()
    leftovers = [".label_map.pbtxt.k3j_9x2a.tmp", ".train.csv.ab12cd34.tmp",  # atomic_path's
                 ".dataset.json.zz99yy88.tmp", ".odhelper-train-00000-of-00001.record.77.tmp"]
    for name in leftovers:
        (output / name).write_text("half")
    (output / ".mine.tmp").write_text("not ours")  # a name odhelper never makes stays
    build_dataset(TfrecordOptions(input=pictures, output=output, workers=1,
                                  copy_label_map=False))
    assert _temp_files(output) == [".mine.tmp"]
