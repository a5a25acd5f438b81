"""A configuration fitted to the data (the quality issue, part 2): tfrecord records the
box statistics, `config`/`run` choose the input size and the anchors from them, say why,
and let --image-size / --anchors / --set decide instead; plus the --time budget, with a
real (tiny) training run."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import yaml

from odhelper import cli
from odhelper.data.annotation import Annotation, Box, write_xml
from odhelper.errors import UsageError
from odhelper.options.training import RunOptions, seconds_of
from run_support import make_dataset

FITTED = re.compile(r"Fitted to the data: input size (\d+) px")


def small_objects(folder: Path, count: int = 16, seed: int = 0) -> Path:
    """320x240 noise pictures holding 2 squares of 8-12 px each (2 classes)."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True)
    rng = random.Random(seed)
    for index in range(count):
        image = Image.effect_noise((320, 240), 40).convert("RGB")
        boxes = []
        for name, colour in (("dot", (220, 30, 30)), ("speck", (30, 30, 220))):
            side = rng.randint(8, 12)
            left, top = rng.randint(0, 300), rng.randint(0, 220)
            ImageDraw.Draw(image).rectangle([left, top, left + side, top + side], fill=colour)
            boxes.append(Box(name, left, top, left + side, top + side))
        image.save(folder / f"s{index:02d}.jpg", quality=90)
        write_xml(Annotation(f"s{index:02d}.jpg", 320, 240, boxes=boxes),
                  folder / f"s{index:02d}.xml")
    return folder


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small")
    pictures = small_objects(root / "pictures")
    assert cli.main(["tfrecord", "-i", str(pictures), "-o", str(root / "dataset"),
                     "--workers", "1"]) == 0
    return root / "dataset"


def fill(dataset: Path, out: Path, *flags: str) -> str:
    """The pipeline.config text `odhelper config` writes with `flags`."""
    assert cli.main(["config", "-m", "ssd_mobilenet_v2_cpu", "-d", str(dataset), "-o",
                     str(out), *flags]) == 0
    return out.read_text()


def test_tfrecord_records_box_statistics(small_dataset):
    stats = json.loads((small_dataset / "dataset.json").read_text())["box_stats"]
    for name in ("dot", "speck"):
        found = stats["classes"][name]
        assert found["boxes"] == 16
        low, median, high = found["width_px"]
        assert 8 <= low <= median <= high <= 12
        assert found["width"][1] == pytest.approx(median / 320, abs=0.01)
        assert found["height"][1] == pytest.approx(found["height_px"][1] / 240, abs=0.01)
    assert stats["boxes_per_picture"] == [2, 2, 2, 2]
    assert 0 < len(stats["sample"]) <= 32 and all(len(row) == 5 for row in stats["sample"])


def test_small_objects_get_a_larger_input_and_fitted_anchors(small_dataset, tmp_path, caplog):
    caplog.set_level("INFO", logger="odhelper")
    text = fill(small_dataset, tmp_path / "fitted.config")
    assert re.search(r"height: 320\s+width: 320", text)  # capped at 2x the template's 160
    said = [r.getMessage() for r in caplog.records if "Fitted to the data" in r.getMessage()]
    assert FITTED.search(said[0]) and "capped" in said[0] and "'" in said[0]
    assert said[1].startswith("Fitted to the data: anchors")
    assert "with the template's anchors" in said[1]
    if said[1].startswith("Fitted to the data: anchors fitted"):
        assert "min_scale: 0.15" not in text  # the template's scale replaced
    caplog.clear()
    text = fill(small_dataset, tmp_path / "asked.config", "--image-size", "192",
                   "--anchors", "template")
    assert re.search(r"height: 192\s+width: 192", text)
    assert "min_scale: 0.15" in text and "max_scale: 0.75" in text
    assert "reduce_boxes_in_lowest_layer" not in text
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "input size 192 px: --image-size" in said and "anchors fitted" not in said


def test_set_wins_and_large_objects_keep_the_template(small_dataset, tmp_path, caplog):
    caplog.set_level("INFO", logger="odhelper")
    text = fill(small_dataset, tmp_path / "set.config", "--set",
                   "model.ssd.image_resizer.fixed_shape_resizer.height=224", "--set",
                   "model.ssd.image_resizer.fixed_shape_resizer.width=224")
    assert re.search(r"height: 224\s+width: 224", text)
    assert "input size 224 px: set by --set" in caplog.text
    caplog.clear()
    large = make_dataset(tmp_path / "large", count=8)
    text = fill(large, tmp_path / "large.config")
    assert re.search(r"height: 160\s+width: 160", text)
    assert "keeps" in caplog.text and "at the template's 160 px" in caplog.text


def test_orientation_free_boxes_get_flip_advice_never_applied(small_dataset, tmp_path, caplog):
    import copy

    from odhelper.data import boxstats
    from odhelper.datasetdir import DatasetDir
    from odhelper.pipeline import augment

    caplog.set_level("INFO", logger="odhelper")
    text = fill(small_dataset, tmp_path / "advised.config")
    said = [r.getMessage() for r in caplog.records if "any way up" in r.getMessage()]
    assert len(said) == 1 and "--vflip --rotate90" in said[0]
    assert "random_vertical_flip" not in text and "random_rotation90" not in text
    caplog.clear()
    fill(small_dataset, tmp_path / "asked.config", "--vflip", "--rotate90")
    assert "any way up" not in caplog.text
    stats = DatasetDir(small_dataset).summary().raw["box_stats"]
    assert boxstats.looks_orientation_free(stats)
    tall = copy.deepcopy(stats)  # upright things (people, bottles) have an 'up'
    tall["classes"]["dot"]["aspect"] = [0.3, 0.4, 0.5]
    grounded = copy.deepcopy(stats)  # everything in the lower half of the pictures
    grounded["sample"] = [row[:2] + [0.5 + row[2] / 2] + row[3:] for row in stats["sample"]]
    single = copy.deepcopy(stats)
    single["boxes_per_picture"] = [1, 1, 1, 1]
    for changed in (tall, grounded, single):
        assert boxstats.looks_orientation_free(changed) is None
    assert augment.orientation_advice(stats, ["random_vertical_flip {}"]).count("--") == 1


def test_pretrained_weights_keep_the_template_size(small_dataset):
    from odhelper.datasetdir import DatasetDir
    from odhelper.od import api
    from odhelper.pipeline import fitting, registry

    configs = api().config_util.get_configs_from_pipeline_file(
        str(registry.get("ssd_mobilenet_v2").template_path))
    stats = DatasetDir(small_dataset).summary().raw["box_stats"]
    fitted = fitting.fit(configs, stats, None, "auto", from_scratch=False)
    assert fitted.image_size == 300
    assert "pre-trained weights keep it" in fitted.choices[0] and len(fitted.choices) == 1


def test_anchor_coverage_measures_the_best_match():
    import numpy as np

    from odhelper.pipeline.fitting import coverage

    anchors = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]], np.float32)
    boxes = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 0.9, 0.9], [0.0, 0.6, 0.1, 0.7]],
                     np.float32)
    share, mean = coverage(boxes, anchors, 0.5)
    assert share == pytest.approx(2 / 3) and mean == pytest.approx((1 + 0.64 + 0) / 3)


def test_time_flag_is_one_of_three():
    assert seconds_of("15m") == 900 and seconds_of("1h30m") == 5400 and seconds_of("90") == 90
    for bad in ("15 minutes", "m", "-3m"):
        with pytest.raises(ValueError):
            seconds_of(bad)
    with pytest.raises(UsageError, match="one of --steps, --epochs and --time"):
        RunOptions(dataset=Path("d"), steps=10, time="5m")
    with pytest.raises(UsageError, match="--time"):
        RunOptions(dataset=Path("d"), time="soon")


@pytest.mark.slow
def test_time_budget_fits_the_steps_and_records_them(tmp_path, caplog):
    """A real tiny run with a 60 s budget: the steps are measured and fitted, recorded in
    run.yaml and pipeline.config; the same command again says the run is finished."""
    caplog.set_level("INFO", logger="odhelper")
    dataset = make_dataset(tmp_path, count=12)
    run_dir = tmp_path / "run"
    argv = ["run", "-m", "ssd_mobilenet_v2", "--from-scratch", "-d", str(dataset), "-r",
            str(run_dir), "--time", "60s", "-b", "2", "--no-export", "--no-report",
            "--image-size", "64", "--anchors", "template"]
    assert cli.main(argv) == 0
    recorded = yaml.safe_load((run_dir / "run.yaml").read_text())
    steps = recorded["steps"]
    assert recorded["time"] == "60s" and 10 < steps < 10 ** 6
    config = (run_dir / "pipeline.config").read_text()
    assert f"num_steps: {steps}" in config and f"total_steps: {steps}" in config
    assert "Time budget (first estimate)" in caplog.text
    done = json.loads((run_dir / "train_done.json").read_text())
    assert done["final_step"] == steps
    evaluated = [json.loads(line)["step"] for line in
                 (run_dir / "eval" / "history.jsonl").read_text().splitlines()]
    every = recorded["eval_every"]  # a refitted total moves the last period's end with it
    assert evaluated and all(step % every == 0 or step == steps for step in evaluated)
    caplog.clear()
    assert cli.main(argv) == 0
    assert "already finished" in caplog.text and "--time 60s" in caplog.text
    again = yaml.safe_load((run_dir / "run.yaml").read_text())
    assert again["steps"] == steps and again["fitted"] == recorded["fitted"] == [
        "input size 64 px: --image-size"]
