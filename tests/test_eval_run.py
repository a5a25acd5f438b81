"""odhelper evaluate on a real (tiny) run: checkpoint restored, OD API evaluators,
tables in RUN/eval, metrics in timings.jsonl."""
import json

import numpy as np
import pytest

from eval_support import cached_tiny_run, copy_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A copy of the tiny run, evaluated once through the CLI at ckpt-1."""
    from odhelper import cli

    run = copy_run(cached_tiny_run(tmp_path_factory), tmp_path_factory.mktemp("evaluate"))
    code = cli.main(["evaluate", "--run-dir", str(run), "--checkpoint", "ckpt-1",
                     "--per-image-table", "4", "--threshold", "0.0"])
    assert code == 0
    return run


def test_tables_count_the_validation_boxes(evaluated):
    from odhelper.metrics.tables import read_class_csv

    dataset = json.loads((evaluated.parent / "dataset" / "dataset.json").read_text())
    rows = {r["class"]: r for r in read_class_csv(evaluated / "eval" / "per_class.csv")}
    assert set(rows) == {"circle", "square", "all"}
    for item in dataset["classes"]:
        row = rows[item["name"]]
        assert int(row["pictures"]) == item["validate_images"]
        assert int(row["boxes"]) == item["validate_boxes"]
        assert int(row["detections"]) > 0  # threshold 0: the model's top 100 per picture
    assert int(rows["all"]["boxes"]) == dataset["splits"]["validate"]["boxes"]
    assert int(rows["all"]["pictures"]) == dataset["splits"]["validate"]["images"]
    markdown = (evaluated / "eval" / "per_class.md").read_text()
    assert markdown.count("\n") == 2 + 3 and "| circle |" in markdown


def test_metrics_are_the_od_api_ones_and_consistent(evaluated):
    saved = json.loads((evaluated / "eval" / "metrics.json").read_text())
    assert saved["step"] == 2 and saved["checkpoint"].endswith("ckpt-1")
    metrics = saved["metrics"]
    per_class = [metrics[f"PascalBoxes_PerformanceByCategory/AP@0.5IOU/{n}"]
                 for n in ("circle", "square")]
    assert metrics["PascalBoxes_Precision/mAP@0.5IOU"] == pytest.approx(np.mean(per_class))
    coco = [metrics[f"DetectionBoxes_Precision/mAP ByCategory/{n}"] for n in ("circle", "square")]
    assert metrics["DetectionBoxes_Precision/mAP"] == pytest.approx(np.mean(coco), abs=1e-6)
    records = [json.loads(line) for line in (evaluated / "timings.jsonl").read_text().splitlines()]
    last = [r for r in records if r["stage"] == "Evaluation"][-1]
    assert last["status"] == "success" and last["step"] == 2
    assert last["PascalBoxes_Precision/mAP@0.5IOU"] == pytest.approx(
        metrics["PascalBoxes_Precision/mAP@0.5IOU"], abs=1e-6)


def test_per_image_letters(evaluated):
    from odhelper.metrics.tables import read_class_csv

    rows = read_class_csv(evaluated / "eval" / "per_image.csv")
    assert [r["class"] for r in rows] == ["circle", "square", "total"]
    for row in rows[:2]:
        letters = row["pictures (T/F/N)"].split()
        assert 1 <= len(letters) <= 4 and set(letters) <= {"T", "F", "N"}
        assert sum(int(row[k]) for k in "TFN") == len(letters)
    assert int(rows[2]["T"]) == int(rows[0]["T"]) + int(rows[1]["T"])


def test_checkpoint_choice(evaluated):
    from odhelper.errors import OdhelperError
    from odhelper.engine.restore import checkpoint_step
    from odhelper.rundir import RunDir

    run_dir = RunDir(evaluated)
    last = run_dir.checkpoint("last")
    assert last.endswith("ckpt-2") and checkpoint_step(last) == 4
    assert run_dir.checkpoint("best") == last  # no best/ yet: the last one
    with pytest.raises(OdhelperError, match="ckpt-9"):
        run_dir.checkpoint("ckpt-9")


def test_not_a_run_dir_is_a_clear_error(tmp_path, capsys):
    from odhelper import cli

    assert cli.main(["evaluate", "--run-dir", str(tmp_path)]) == 1
    assert "pipeline.config: pipeline config not found" in capsys.readouterr().err


def test_coco_numbers_match_the_run_evaluator(evaluated):
    """The run's in-memory evaluator (engine/evaluator.py) and `odhelper evaluate` see the
    same detections: their COCO metrics agree. (Pascal is compared by hand-computed tests
    in test_eval_metrics.py: the OD API's add_eval_dict keeps padded ground truth.)"""
    evaluator = pytest.importorskip("odhelper.engine.evaluator")
    from odhelper.workflows.evaluate import load_run_configs

    ours = json.loads((evaluated / "eval" / "metrics.json").read_text())
    theirs = evaluator.evaluate_checkpoint(load_run_configs(evaluated),
                                           ours["checkpoint"]).metrics
    for key in ("DetectionBoxes_Precision/mAP", "DetectionBoxes_Precision/mAP@.50IOU",
                "DetectionBoxes_Recall/AR@100"):
        assert ours["metrics"][key] == pytest.approx(theirs[key], abs=1e-6), key


def test_records_glob(evaluated):
    from odhelper.errors import OdhelperError
    from odhelper.engine.records import eval_record_files
    from odhelper.workflows.evaluate import load_run_configs

    configs = load_run_configs(evaluated)
    dataset = evaluated.parent / "dataset"
    assert eval_record_files(configs, None) == [str(dataset / "validate-00000-of-00001.record")]
    assert len(eval_record_files(configs, str(dataset / "*.record"))) == 2
    with pytest.raises(OdhelperError, match="no evaluation records match"):
        eval_record_files(configs, str(dataset / "nothing-*.record"))
