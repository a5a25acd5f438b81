"""`odhelper demo` end to end, shortened: tiny pictures, few steps, small model input.

Every stage runs and leaves real artefacts.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from odhelper import cli, log
from odhelper.options.demo import DemoOptions
from odhelper.workflows import demo as run

pytestmark = pytest.mark.slow  # trains for real once `odhelper run` is present


def _short_options(out):
    return DemoOptions(out=out, count=48, validate=8, holdout=2, steps=6, eval_every=3,
                           batch_size=2, image_size=96, picture_size=96, workers=1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, run.run_demo(_short_options(out))


def test_pictures_generated_and_stage_records(demo):
    out, result = demo
    images = sorted((out / "synthetic" / "images").glob("*.jpg"))
    assert len(images) == 48 and len(list((out / "synthetic" / "holdout").glob("*.jpg"))) == 2
    assert all(img.with_suffix(".xml").exists() for img in images)
    assert result.metrics["boxes"] == sum(
        len(ET.parse(img.with_suffix(".xml")).getroot().findall("object")) for img in images)
    records = [json.loads(x) for x in (out / log.TIMINGS_FILE).read_text().splitlines()]
    names = [r["stage"] for r in records]
    assert "Demo stage generate" in names and names[-1] == "Demo"
    assert all(r["status"] == "success" for r in records if r["stage"].startswith("Demo"))
    assert {name for name, _ in run.PIPELINE} <= set(result.seconds)


def test_artefacts_of_every_stage(demo):
    out, result = demo
    # tfrecord
    dataset = json.loads((out / "dataset" / "dataset.json").read_text())
    assert dataset["splits"]["train"]["images"] + dataset["splits"]["validate"]["images"] == 48
    assert all((out / "dataset" / shard).stat().st_size > 0
               for shard in dataset["splits"]["train"]["shards"])
    # run
    assert (out / "run" / "pipeline.config").exists()
    assert list((out / "run" / "checkpoints").glob("ckpt-*.index"))
    assert (out / "run" / "export" / "saved_model" / "saved_model.pb").exists()
    assert any(k.startswith("PascalBoxes_Precision/mAP@0.5IOU") for k in result.metrics)
    # evaluate
    table = (out / "run" / "eval" / "per_class.csv").read_text()
    assert all(name in table for name in ("circle", "square", "triangle"))
    assert 0.0 <= result.metrics["PascalBoxes_Precision/mAP@0.5IOU"] <= 1.0
    # predict
    drawn = sorted(p.name for p in (out / "predictions").rglob("*.jpg"))
    assert drawn == ["holdout-00000.jpg", "holdout-00001.jpg"]
    assert len(list((out / "predictions").rglob("*.xml"))) == 2
    header = (out / "predictions" / "detections.csv").read_text().splitlines()[0]
    assert header.startswith("filename,class,score")
    # report
    assert (out / "run" / "report.html").stat().st_size > 10_000


def test_where_to_look_names_outputs(demo):
    _, result = demo
    text = "\n".join(run.where_to_look(result))
    assert "Demo finished in" in text and str(result.outputs["pictures"]) in text
    assert f"tensorboard --logdir {result.outputs['run']}" in text


def test_cli_generate_only_with_pool(tmp_path):
    code = cli.main(["demo", "-o", str(tmp_path), "--generate-only", "--count", "6",
                     "--validate", "2", "--holdout", "1", "--pool", "3", "--workers", "1"])
    assert code == 0
    synthetic = tmp_path / "synthetic"
    assert len(list((synthetic / "images").glob("*.xml"))) == 6
    assert sorted(p.parent.name for p in (synthetic / "pool").rglob("*.jpg")) == [
        "circle", "square", "triangle"]


def test_bad_options_exit_2(tmp_path, capsys):
    assert cli.main(["demo", "-o", str(tmp_path), "--count", "10", "--validate", "10"]) == 2
    assert "--validate" in capsys.readouterr().err
