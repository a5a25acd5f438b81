"""Run state with one owner each, without training: the dataset folder replaced as a
whole, the default run folder per dataset, one lock per command, the time-left
estimator, a folder opened for writing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_support import options
from odhelper import lock, workspace
from odhelper.data.build import build_dataset
from odhelper.datasetdir import DatasetDir, is_content
from odhelper.engine.eta import TimeLeft, evaluations_left
from odhelper.errors import OdhelperError
from odhelper.options import fields
from odhelper.options.training import RunOptions
from run_support import make_pictures


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> Path:
    return make_pictures(tmp_path_factory.mktemp("seams") / "pictures", count=20, size=48)


def test_a_new_split_leaves_nothing_of_the_older_one(pictures, tmp_path):
    output = tmp_path / "dataset"
    build_dataset(options(pictures, output, split_ratio="8,1,1"))
    assert {"test.csv", "test.sha256"} <= {p.name for p in output.iterdir()}
    assert list(output.glob("test-*.record"))
    content = build_dataset(options(pictures, output, split_ratio="9"))
    names = {p.name for p in output.iterdir()}
    assert "test" not in content["splits"]
    assert not {n for n in names if n.startswith("test")}, names
    assert not [n for n in names if n.startswith(".staging-") or n == ".commit.json"]
    assert DatasetDir(output).summary().splits.keys() == {"train", "validate"}


def test_a_commit_cut_short_is_finished_by_the_next_reader(pictures, tmp_path):
    """A process killed between the journal and the last rename: the files already in
    place and the ones still staged make up the new dataset once a reader settles it."""
    old, new = tmp_path / "old", tmp_path / "new"
    build_dataset(options(pictures, old, split_ratio="8,1,1", seed=1))
    build_dataset(options(pictures, new, split_ratio="9", seed=2))
    staging = old / ".staging-4242"
    staging.mkdir()
    staged = sorted(p.name for p in new.iterdir() if p.is_file() and is_content(p.name))
    for name in staged:
        (staging / name).write_bytes((new / name).read_bytes())
    stale = sorted(p.name for p in old.iterdir() if p.name.startswith("test"))
    (old / ".commit.json").write_text(json.dumps({"staging": staging.name, "files": staged,
                                                  "remove": stale}))
    first = next(n for n in staged if n.endswith(".record"))  # renamed before the kill
    (staging / first).replace(old / first)
    summary = DatasetDir(old).summary()
    assert summary.raw == json.loads((new / "dataset.json").read_text())
    assert not (old / ".commit.json").exists() and not staging.exists()
    assert not list(old.glob("test*"))


def test_tfrecord_takes_its_lock_once(pictures, tmp_path, monkeypatch):
    taken = []
    acquire = lock._acquire

    def counted(path, command):
        taken.append(Path(path).parent.name)
        return acquire(path, command)

    monkeypatch.setattr(lock, "_acquire", counted)
    from odhelper import cli
    assert cli.main(["tfrecord", "-i", str(pictures), "-o", str(tmp_path / "ds"),
                     "--workers", "1"]) == 0
    assert taken == ["ds"]


def test_the_default_run_folder_is_named_after_the_dataset_and_the_model(pictures, tmp_path):
    made = RunOptions(model="ssd_mobilenet_v2_cpu", steps=5, input=pictures)
    assert made.run_dir == Path("runs") / "pictures-ssd_mobilenet_v2_cpu"
    dataset = tmp_path / "cards"
    build_dataset(options(pictures, dataset, name="playing cards"))
    given = RunOptions(model="ssd_mobilenet_v2", steps=5, dataset=dataset)
    assert given.run_dir == Path("runs") / "playing_cards-ssd_mobilenet_v2"


def test_given_options_are_remembered(tmp_path):
    built = fields.build(RunOptions, {"steps": 5, "dataset": tmp_path, "batch_size": 4})
    assert {"steps", "dataset", "batch_size"} <= fields.given_fields(built)
    assert "model" not in fields.given_fields(built)
    in_code = RunOptions(steps=5, dataset=tmp_path, augment="light")
    assert {"augment", "steps"} <= fields.given_fields(in_code)


def test_time_left_counts_training_evaluations_and_export():
    assert evaluations_left(0, 1000, 250) == 4 and evaluations_left(999, 1000, 250) == 1
    assert evaluations_left(1000, 1000, 250) == 0 and evaluations_left(10, 1000, None) == 1
    estimate = TimeLeft(1000, 250, eval_seconds=10.0, export_seconds=30.0)
    assert estimate.seconds(500, 5.0) == pytest.approx(100 + 2 * 10 + 30)
    assert estimate.covers(500) == "training, 2 evaluations, export"
    assert TimeLeft(1000, 250).covers(0) == \
        "training, evaluations not timed yet, export not timed yet"
    fit = estimate.steps_that_fit(200.0, 0, 5.0)
    assert TimeLeft(fit, 250, 10.0, 30.0).seconds(0, 5.0) <= 200.0 < \
        TimeLeft(fit + 1, 250, 10.0, 30.0).seconds(0, 5.0)


def test_a_folder_made_by_a_failing_command_is_removed_an_existing_one_kept(tmp_path):
    made, existing = tmp_path / "made", tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    for folder in (made, existing):
        with pytest.raises(OdhelperError):
            with workspace.opened(folder, "test"):
                (folder / "half.txt").write_text("half")
                raise OdhelperError("refused")
    assert not made.exists()
    assert (existing / "keep.txt").read_text() == "mine"
    assert lock.LOCK_FILE not in {p.name for p in existing.iterdir()}


def test_epochs_become_steps_recorded_in_the_config(pictures, tmp_path):
    from odhelper.pipeline import config
    from odhelper.rundir import RunDir
    from odhelper.workflows import resume

    dataset = tmp_path / "dataset"
    built = build_dataset(options(pictures, dataset, split_ratio="0.8"))
    train = built["splits"]["train"]["images"]  # 16
    run_dir = RunDir(tmp_path / "run")
    chosen = RunOptions(model="ssd_mobilenet_v2_cpu", dataset=dataset, epochs=2.5,
                        batch_size=4, run_dir=run_dir.root, from_scratch=True)
    with pytest.raises(Exception, match="one of --steps, --epochs and --time"):
        RunOptions(dataset=dataset, epochs=2, steps=5)
    plan = resume.Plan()
    run_dir.root.mkdir()
    resume.prepare(chosen, run_dir, plan)
    assert chosen.steps == 10 == -(-2.5 * train // 4) and plan.epoch_steps == train / 4
    assert config.load(run_dir.pipeline_config)["train_config"].num_steps == 10
    saved = tmp_path / "run.yaml"
    fields.save_yaml(chosen, saved)  # recorded with both: read back, the epochs count
    again = fields.load_yaml(RunOptions, saved)
    assert again["epochs"] == 2.5 and "steps" not in again
