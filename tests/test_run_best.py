"""best/ keeping, patience counting, run options and the finished-run check."""
from __future__ import annotations

import json
import os

import pytest

from odhelper import cli
from odhelper.engine.hooks import BestKeeper
from odhelper.rundir import RunDir

METRIC = "PascalBoxes_Precision/mAP@0.5IOU"


@pytest.fixture
def checkpoints(tmp_path) -> list[str]:
    """Three real checkpoints (ckpt-1..3) of a variable holding the step number."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    value = tf.Variable(0.0)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(value=value),
                                         str(tmp_path / "checkpoints"), max_to_keep=5)
    paths = []
    for step in (1, 2, 3):
        value.assign(float(step))
        paths.append(manager.save(checkpoint_number=step))
    return paths


def test_best_keeps_the_highest_metric_and_counts_stale(tmp_path, checkpoints):
    import tensorflow as tf

    best = BestKeeper(RunDir(tmp_path), METRIC)
    assert best.consider(1, {METRIC: 0.2}, checkpoints[0])
    assert best.consider(2, {METRIC: 0.5}, checkpoints[1])
    assert not best.consider(3, {METRIC: 0.4}, checkpoints[2])
    assert best.stale == 1 and best.step == 2
    record = json.loads((tmp_path / "best" / "best.json").read_text())
    assert record["step"] == 2 and record["value"] == 0.5 and record["checkpoint"] == "ckpt-2"
    restored = tf.Variable(-1.0)
    path = tf.train.latest_checkpoint(str(tmp_path / "best"))
    tf.train.Checkpoint(value=restored).restore(path).assert_consumed()
    assert restored.numpy() == 2.0
    assert sorted(p.name for p in (tmp_path / "best").iterdir()) == [
        "best.json", "checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
    # a resumed run remembers the best so far
    again = BestKeeper(RunDir(tmp_path), METRIC)
    assert again.value == 0.5 and not again.consider(4, {METRIC: 0.45}, checkpoints[2])
    assert again.stale == 2  # and the evaluations without improvement, for --patience
    assert not again.consider(5, {"other": 1.0}, checkpoints[2])  # metric absent: warned
    assert again.consider(6, {METRIC: 0.6}, checkpoints[2]) and again.stale == 0
    assert BestKeeper(RunDir(tmp_path), METRIC).stale == 0


def test_latest_step_reads_checkpoint_state(tmp_path, checkpoints):
    assert RunDir(tmp_path).latest_step() == 3
    assert RunDir(tmp_path / "nowhere").latest_step() == 0


@pytest.mark.parametrize("argv, message", [
    (["run", "--dataset", "d"], "--steps N"),
    (["run", "--steps", "5"], "give -i XML_DIR or --dataset DIR"),
    (["run", "--steps", "5", "--dataset", "d", "--eval-every", "0"], "--eval-every"),
    (["run", "--steps", "5", "--dataset", "d", "--model", "yolo"], "unknown model 'yolo'"),
    (["run", "--steps", "5", "--dataset", "d", "--patience", "2", "--eval-mode", "sidecar"],
     "--patience needs --eval-mode inline"),
])
def test_run_usage_errors(argv, message, capsys, tmp_path):
    argv = [a if a != "d" else str(tmp_path) for a in argv]
    assert cli.main(argv + ["--run-dir", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err


def test_run_on_missing_dataset_names_the_file(tmp_path, capsys):
    code = cli.main(["run", "--steps", "5", "--dataset", str(tmp_path / "none"),
                     "--run-dir", str(tmp_path / "run"), "--from-scratch"])
    assert code == 1
    assert f"{tmp_path / 'none' / 'dataset.json'}: not found" in capsys.readouterr().err


def test_export_without_a_run_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["export", "--run-dir", str(tmp_path)]) == 1
    assert f"{tmp_path / 'pipeline.config'}: pipeline config not found" in capsys.readouterr().err


@pytest.mark.slow
def test_diverging_loss_stops_with_the_step_and_cause(tmp_path, capsys):
    from run_support import make_dataset

    dataset = make_dataset(tmp_path, count=6)
    run_dir = tmp_path / "run"
    code = cli.main(["run", "--model", "ssd_mobilenet_v2_cpu", "--steps", "10",
                     "--dataset", str(dataset), "--run-dir", str(run_dir), "--batch-size", "1",
                     "--eval-mode", "none", "--no-export", "--set", "learning_rate=1e38",
                     "--set", "model.ssd.image_resizer.fixed_shape_resizer.height=64",
                     "--set", "model.ssd.image_resizer.fixed_shape_resizer.width=64"])
    assert code == 1
    error = capsys.readouterr().err
    assert "training diverged at step" in error and "learning rate is too high" in error
    assert RunDir(run_dir).latest_step() == 0  # no checkpoint of broken weights
    records = [json.loads(line) for line in (run_dir / "timings.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records if r["stage"] == "Training"] == ["failed"]
