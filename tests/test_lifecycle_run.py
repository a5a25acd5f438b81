"""Lifecycle: one run taken through every seam with the real CLI, in real processes.

tfrecord (-i) -> run stopped by SIGTERM at its last step -> resumed
-> export again, with TFLite, with ONNX, another signature -> evaluate another
checkpoint and another rule -> predict on pictures, a video, a mixed folder -> report
(locked) -> the same run folder with another dataset (refused, nothing rewritten) ->
tfrecord interrupted over the run's dataset (still usable). The tests run in order
on one shared run (the tiny configuration: 64 px, batch 2, a few steps).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from faults_support import ROOT, finish, odhelper, stop
from lifecycle_support import TINY, cli, ok, records, snapshot, stage_records, wait_for
from run_support import make_pictures

pytestmark = pytest.mark.slow

STEPS = 4


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("lifecycle")
    pictures = make_pictures(root / "shapes", count=24, size=64, seed=3)
    run = root / "run"
    argv = ["run", "-m", "ssd_mobilenet_v2_cpu", "-i", pictures, "-sr", "8,1,1",
            "--run-dir", run, "-n", STEPS, "--eval-every", 2, "--from-scratch",
            "--no-report", *TINY]
    return {"root": root, "pictures": pictures, "run": run, "argv": argv}


def _thresholds(run) -> dict:
    return json.loads((run / "export" / "thresholds.json").read_text())


def test_sigterm_at_the_last_step_then_resume(world):
    """(SIGTERM mid-run and its resume: tests/test_faults_run.py.)"""
    run, argv = world["run"], world["argv"]
    process = odhelper(*argv)
    try:  # stopped at the last step, while it is being evaluated
        wait_for(run / "checkpoints" / f"ckpt-{STEPS}.index", process)
        stop(process, signal.SIGTERM)
        code, text = finish(process)
    finally:
        stop(process)
    assert code == 143 and "stopped by SIGTERM" in text and "Traceback" not in text, text
    assert STEPS not in [r["step"] for r in records(run / "eval" / "history.jsonl")]
    text = ok(*argv)
    assert f"from step {STEPS} to {STEPS}" in text
    history = records(run / "eval" / "history.jsonl")
    assert history[-1]["step"] == STEPS  # the final checkpoint evaluated before export
    best = json.loads((run / "best" / "best.json").read_text())
    exported = json.loads((run / "export" / "export.json").read_text())
    assert exported["checkpoint"] == best["checkpoint"] and exported["step"] == best["step"]
    points = _thresholds(run)
    assert points["step"] == best["step"] and points["rule"] == {}
    program = stage_records(run, "Program")[-1]
    children = [r for r in records(run / "timings.jsonl")
                if r.get("depth") == program["depth"] + 1 and r["start"] >= program["start"]]
    accounted = sum(r["seconds"] for r in children)
    assert accounted >= 0.95 * program["seconds"], (accounted, program["seconds"], children)


def test_export_again_adds_artifacts_and_keeps_what_is_current(world):
    run = world["run"]
    saved_model = snapshot(run / "export" / "saved_model")
    points = (run / "export" / "thresholds.json").read_bytes()
    text = ok("export", "--run-dir", run, "--tflite", "fp32")
    assert "SavedModel kept" in text and "Export model start" not in text
    assert snapshot(run / "export" / "saved_model") == saved_model
    assert (run / "export" / "thresholds.json").read_bytes() == points  # defect: dropped
    tflite = (run / "export" / "model.tflite").read_bytes()
    text = ok("export", "--run-dir", run, "--onnx")
    assert "TFLite graph start" not in text and "TFLite fp32 start" not in text
    assert (run / "export" / "model.tflite").read_bytes() == tflite
    assert (run / "export" / "model.onnx").is_file()
    table = (run / "export" / "artifacts.csv").read_text()
    assert all(name in table for name in ("SavedModel", "TFLite fp32", "ONNX"))
    assert (run / "export" / "thresholds.json").read_bytes() == points


def test_evaluate_another_checkpoint_and_another_rule(world):
    run, argv = world["run"], world["argv"]
    exported = (run / "export" / "thresholds.json").read_bytes()
    other = 2 if json.loads((run / "export" / "export.json").read_text())["step"] == STEPS \
        else STEPS  # a checkpoint that is not the exported one
    ok("evaluate", "--run-dir", run, "--checkpoint", f"ckpt-{other}")
    assert (run / "export" / "thresholds.json").read_bytes() == exported
    assert json.loads((run / "eval" / "thresholds.json").read_text())["step"] == other
    ok("evaluate", "--run-dir", run, "--target-precision", "0.5")
    chosen = _thresholds(run)
    assert chosen["rule"] == {"target_precision": 0.5}
    ok(*argv)  # the same run command again: finished, the chosen rule stays
    assert _thresholds(run)["rule"] == {"target_precision": 0.5}


def test_resume_keeps_its_configuration_and_export_its_signature(world):
    run, argv = world["run"], world["argv"]
    before = snapshot(run, leave_out=("odhelper.log", "timings.jsonl"))
    code, text = cli(*argv[:-2], "--batch-size", "4", *argv[-2:])
    assert code == 2 and "--batch-size 4 (recorded: 2)" in text, text
    assert snapshot(run, leave_out=("odhelper.log", "timings.jsonl")) == before
    ok("export", "--run-dir", run, "--batched")
    assert json.loads((run / "export" / "export.json").read_text())["signature"] == \
        "float_image_tensor"
    ok("export", "--run-dir", run)  # without the flag: the recorded signature stays
    assert json.loads((run / "export" / "export.json").read_text())["signature"] == \
        "float_image_tensor"


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_pictures_and_video_get_the_same_per_class_rule(world):
    import imageio.v2 as imageio
    import numpy as np
    from PIL import Image

    root, run = world["root"], world["run"]
    mixed = root / "mixed"
    mixed.mkdir()
    frames = sorted(world["pictures"].glob("*.jpg"))[:6]
    for path in frames[:3]:
        (mixed / path.name).write_bytes(path.read_bytes())
    with imageio.get_writer(mixed / "clip.mp4", fps=5, macro_block_size=1) as writer:
        for path in frames:
            writer.append_data(np.asarray(Image.open(path).convert("RGB")))
    text = ok("predict", "-m", run, "-i", mixed, "-o", root / "predicted")
    assert "thresholds per class" in text.lower(), text
    ok("predict", "-m", run, "-i", mixed, "-o", root / "everything", "--threshold", "0")
    points = {name: item["threshold"] for name, item in _thresholds(run)["classes"].items()}
    for table in ("detections.csv", "clip_detections.csv"):
        everything = _rows(root / "everything" / table)
        kept = _rows(root / "predicted" / table)
        assert everything, f"{table}: the tiny model detects nothing at all"
        # the CSV rounds scores to 4 decimals: a row that close to its threshold may go either way
        clear = [r for r in everything if abs(float(r["score"]) - points[r["class"]]) > 1e-4]
        expected = [r for r in clear if float(r["score"]) >= points[r["class"]]]
        assert [r for r in kept if r in clear] == expected, table
        assert all(r in everything for r in kept), table


def test_report_takes_the_lock(world):
    run = world["run"]
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from odhelper import lock\n"
         "with lock.held(sys.argv[1], 'test'):\n    print('held', flush=True); time.sleep(60)",
         str(run)], stdout=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        code, text = cli("report", "--run-dir", run)
        assert code == 1 and "in use by another odhelper process" in text, text
    finally:
        stop(holder, signal.SIGKILL)
        holder.wait()
    ok("report", "--run-dir", run)
    assert (run / "report.html").is_file()


def test_another_dataset_in_the_same_run_folder_is_refused(world):
    root, run, argv = world["root"], world["run"], world["argv"]
    other = make_pictures(root / "other", count=12, size=64, seed=9)
    for xml in other.glob("*.xml"):  # one class, named apart: another label map
        xml.write_text(xml.read_text().replace("<name>red</name>", "<name>green</name>")
                       .replace("<name>blue</name>", "<name>green</name>"))
    ok("tfrecord", "-i", other, "-o", root / "other_dataset", "-sr", "0.67")
    kept = snapshot(run, leave_out=("odhelper.log", "timings.jsonl"))
    for given in (["-i", other], ["--dataset", root / "other_dataset"]):
        for steps in (STEPS, STEPS + 4):  # already finished, or more steps: refused alike
            command = [*argv[:3], *given, *argv[5:]]
            command[command.index("-n") + 1] = steps
            code, text = cli(*command)
            assert code == 1 and "trained on dataset" in text and "another one" in text, text
            assert "Traceback" not in text
    assert snapshot(run, leave_out=("odhelper.log", "timings.jsonl")) == kept


def test_tfrecord_interrupted_over_the_runs_dataset_leaves_it_usable(world):
    root, run = world["root"], world["run"]
    dataset = run / "dataset"
    before = (dataset / "dataset.json").read_bytes()
    stuck = root / "stuck"  # the run's pictures and one whose reading never ends (a FIFO)
    shutil.copytree(world["pictures"], stuck)
    os.mkfifo(stuck / "zz.jpg")
    first = sorted(stuck.glob("*.xml"))[0]
    (stuck / "zz.xml").write_text(first.read_text().replace(f"{first.stem}.jpg", "zz.jpg"))
    process = odhelper("tfrecord", "-i", stuck, "-o", dataset, "--workers", "1")
    try:
        wait_for(dataset / ".odhelper.lock", process, 60)
        time.sleep(2)  # converting, stuck on the FIFO
        assert process.poll() is None
    finally:
        stop(process, signal.SIGKILL)
        process.wait()
    assert (dataset / "dataset.json").read_bytes() == before
    ok("evaluate", "--run-dir", run)  # reads the run's validation records: all there

