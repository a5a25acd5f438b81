"""`odhelper run` end to end with real TensorFlow: ssd_mobilenet_v2 from scratch on
tiny pictures, two evaluations in ONE process, best/, export, and the exported
SavedModel detecting in a fresh process that never imports object_detection."""
from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from odhelper import cli
from odhelper.pipeline import registry
from run_support import make_dataset

pytestmark = pytest.mark.slow

TEMPLATES = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
             for p in registry.PIPELINES.glob("*.config")}
SIZE = ["--set", "model.ssd.image_resizer.fixed_shape_resizer.height=64",
        "--set", "model.ssd.image_resizer.fixed_shape_resizer.width=64"]

DETECT = """
import json, sys
import numpy as np, tensorflow as tf
from PIL import Image
model = tf.saved_model.load(sys.argv[1])
image = np.asarray(Image.open(sys.argv[2]).convert("RGB"))[None]
out = model.signatures["serving_default"](input_tensor=tf.constant(image))
assert "object_detection" not in sys.modules
print(json.dumps({"num": int(out["num_detections"][0]),
                  "boxes": out["detection_boxes"].shape.as_list(),
                  "top_score": float(out["detection_scores"][0][0])}))
"""


def events(folder: Path) -> dict[str, list]:
    """{tag: [(step, kind)]} of the TensorBoard event files in `folder`."""
    import tensorflow as tf

    tags: dict[str, list] = {}
    for path in folder.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                kind = value.metadata.plugin_data.plugin_name or "scalar"
                tags.setdefault(value.tag, []).append((event.step, kind))
    return tags


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    dataset = make_dataset(root, count=12)
    run_dir = root / "run"
    argv = ["run", "--model", "ssd_mobilenet_v2", "--steps", "4", "--eval-every", "2",
            "--dataset", str(dataset), "--run-dir", str(run_dir), "--batch-size", "2",
            "--from-scratch", "--log-every", "1", "--tflite", "--no-check", *SIZE]
    assert cli.main(argv) == 0
    return run_dir, argv, root


def test_two_evaluations_in_one_process(finished_run):
    run_dir, _, _ = finished_run
    records = [json.loads(line) for line in (run_dir / "timings.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["stage"] == "Evaluate model"]
    assert [r["step"] for r in evals] == [2, 4]
    for record in evals:
        assert 0.0 <= record["PascalBoxes_Precision/mAP@0.5IOU"] <= 1.0
        assert "DetectionBoxes_Precision/mAP" in record
        assert {"PascalBoxes_PerformanceByCategory/AP@0.5IOU/red",
                "PascalBoxes_PerformanceByCategory/AP@0.5IOU/blue"} <= set(record)
    learning = [r for r in records if r["stage"] == "Training"]
    assert learning[0]["status"] == "success" and learning[0]["final step"] == 4
    log_text = (run_dir / "odhelper.log").read_text()
    for line in ("Program start [ model : ssd_mobilenet_v2, num steps : 4 ]",
                 "Training start", "Total learning time :",
                 "Evaluate model start [ Step number : 2 ]",
                 "Evaluate model start [ Step number : 4 ]", "Export model start",
                 "Report Success", "Program Success [ Total program time :",
                 "tensorboard --logdir"):
        assert line in log_text
    success = [line for line in log_text.splitlines() if "Evaluate model Success" in line]
    assert len(success) == 2 and all("mAP@0.5 : " in line and "val loss : " in line
                                     and "Total evaluation time" in line for line in success)
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("ckpt-*.index")) == \
        ["ckpt-2.index", "ckpt-4.index"]
    best = json.loads((run_dir / "best" / "best.json").read_text())
    assert best["step"] in (2, 4) and best["metric"] == "PascalBoxes_Precision/mAP@0.5IOU"
    assert "steps: 4" in (run_dir / "run.yaml").read_text()
    html = (run_dir / "report.html").read_text()
    assert "red" in html and "blue" in html and "<img" in html


def test_report_of_the_real_run_has_every_section(finished_run):
    from test_report_run import SECTIONS, section

    run_dir, _, _ = finished_run
    page = (run_dir / "report.html").read_text()
    for key in SECTIONS:
        assert 'class="note"' not in section(page, key), f"section {key} is empty"
    assert "at step 4" in section(page, "map")  # from the run's eval/ TensorBoard events


def test_tensorboard_train_and_eval_events(finished_run):
    run_dir, _, _ = finished_run
    train = events(run_dir / "train")
    for tag in ("Loss/total_loss", "Loss/classification_loss", "learning_rate",
                "steps_per_sec"):
        assert tag in train, tag
    assert sorted(step for step, _ in train["Loss/total_loss"]) == [1, 2, 3, 4]
    evaluation = events(run_dir / "eval")
    assert sorted(s for s, _ in evaluation["PascalBoxes_Precision/mAP@0.5IOU"]) == [2, 4]
    assert "PascalBoxes_PerformanceByCategory/AP@0.5IOU/red" in evaluation
    images = [tag for tag, seen in evaluation.items() if seen[0][1] == "images"]
    assert any(tag.startswith("eval_side_by_side_0") for tag in images)


def test_export_detects_in_a_fresh_process(finished_run):
    run_dir, _, root = finished_run
    export = run_dir / "export"
    assert (export / "pipeline.config").exists() and (export / "checkpoint").is_dir()
    picture = root / "pictures" / "pic000.jpg"
    result = subprocess.run([sys.executable, "-c", DETECT, str(export / "saved_model"),
                             str(picture)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    detected = json.loads(result.stdout.strip().splitlines()[-1])
    assert detected["boxes"][0] == 1 and detected["boxes"][2] == 4
    assert 0 <= detected["num"] <= 100 and 0.0 <= detected["top_score"] <= 1.0
    assert (export / "label_map.pbtxt").read_text() == (run_dir / "label_map.pbtxt").read_text()


def test_tflite_model_runs(finished_run):
    import numpy as np
    import tensorflow as tf

    run_dir, _, _ = finished_run
    interpreter = tf.lite.Interpreter(model_path=str(run_dir / "export" / "model.tflite"))
    interpreter.allocate_tensors()
    (given,) = interpreter.get_input_details()
    assert list(given["shape"]) == [1, 64, 64, 3]
    interpreter.set_tensor(given["index"], np.zeros(given["shape"], np.float32))
    interpreter.invoke()
    outputs = [interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()]
    assert any(o.shape[-1] == 4 for o in outputs)  # boxes among the outputs
    info = json.loads((run_dir / "export" / "tflite.json").read_text())
    assert info["resize"]["method"] == "bilinear" and not info["resize"]["half_pixel_centers"]


def test_whole_pictures_scored_by_tiles_with_the_export(finished_run):
    from PIL import Image

    from odhelper.engine import predictor
    from odhelper.engine.tiled import detect_tiled

    run_dir, _, root = finished_run
    assert cli.main(["evaluate", "-r", str(run_dir), "--tile", "64"]) == 0  # galleries too
    tiled = json.loads((run_dir / "eval" / "tiled" / "metrics.json").read_text())
    whole = json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert tiled["tile"] == {"size": 64, "overlap": 0.2}
    assert tiled["pictures"] == whole["pictures"] > 0
    # a picture of 2 x 3 tiles: boxes from every tile come back in the picture's pixels
    pixels = np.tile(np.asarray(Image.open(root / "pictures" / "pic000.jpg").convert("RGB")),
                     (2, 3, 1))
    found = detect_tiled(predictor.load_model(run_dir), pixels, 64, 0.2)
    assert len(found.scores) > 0
    assert (found.yxyx >= -1).all() and (found.yxyx[:, [0, 2]] <= 129).all() and \
        (found.yxyx[:, [1, 3]] <= 193).all()
    assert (found.yxyx[:, 1] >= 64).any() and (found.yxyx[:, 0] >= 64).any()
    big = root / "big"
    big.mkdir()
    Image.fromarray(pixels).save(big / "six.png")
    out = root / "tiled-predictions"
    assert cli.main(["predict", "-m", str(run_dir), "-i", str(big), "-o", str(out),
                     "--tile", "64", "-t", "0"]) == 0
    with open(out / "detections.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert rows and max(float(r["xmax"]) for r in rows) > 64  # in the whole picture's pixels


def test_finished_run_says_so(finished_run):
    run_dir, argv, _ = finished_run
    assert cli.main(argv) == 0
    assert "already finished at step 4" in (run_dir / "odhelper.log").read_text()


def test_larger_steps_continue_and_refresh_the_report(finished_run):
    run_dir, argv, _ = finished_run
    longer = [a if a != "4" else "6" for a in argv]
    longer.remove("--tflite")
    assert cli.main(longer) == 0
    log_text = (run_dir / "odhelper.log").read_text()
    assert "Continuing" in log_text and "from step 4 to 6" in log_text
    assert "Evaluate model start [ Step number : 6 ]" in log_text
    best = json.loads((run_dir / "best" / "best.json").read_text())
    reported = json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert reported["step"] == best["step"]  # the report's tables follow best/


def test_templates_byte_identical_after_runs(finished_run):
    now = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
           for p in registry.PIPELINES.glob("*.config")}
    assert now == TEMPLATES
