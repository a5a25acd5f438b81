"""Augmentation presets in the filled config (built by the OD API's own preprocessor
builder), the handedness warning, and a tiny real run on a set with background
pictures, previewed through the OD API's training input pipeline."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from odhelper import cli
from odhelper.data.annotation import Annotation, write_xml
from odhelper.data.labelmap import write as write_label_map
from odhelper.options.training import Augmentation
from odhelper.pipeline import augment, config
from run_support import make_dataset, make_pictures

SIZE = ["--set", "model.ssd.image_resizer.fixed_shape_resizer.height=64",
        "--set", "model.ssd.image_resizer.fixed_shape_resizer.width=64"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("augment"), count=9)


def _steps(dataset, choice, label_map=None) -> list[str]:
    configs = config.fill(config.FillRequest(model="ssd_mobilenet_v2", dataset=dataset,
                                             augmentation=choice, label_map=label_map))
    from odhelper.od import api

    for step in configs["train_config"].data_augmentation_options:  # the OD API accepts it
        api().inputs.preprocessor_builder.build(step)
    return [text.split(" ", 1)[0] for text in augment.describe(configs["train_config"])]


def test_presets_and_switches(dataset):
    template = _steps(dataset, None)
    assert template == ["random_horizontal_flip", "ssd_random_crop"]
    assert _steps(dataset, Augmentation("default")) == template
    assert _steps(dataset, Augmentation("none")) == []
    assert _steps(dataset, Augmentation("light")) == ["random_horizontal_flip",
                                                      "random_adjust_brightness"]
    heavy = _steps(dataset, Augmentation("heavy"))
    assert "random_crop_image" in heavy and "random_adjust_hue" in heavy
    assert _steps(dataset, Augmentation("default", hflip=False, vflip=True, rotate90=True)) \
        == ["ssd_random_crop", "random_vertical_flip", "random_rotation90"]


def test_handedness_warning(dataset, tmp_path, caplog):
    label_map = write_label_map({"left_arrow": 1, "right_arrow": 2}, tmp_path / "arrows.pbtxt")
    with caplog.at_level("WARNING"):
        _steps(dataset, Augmentation("light"), label_map)
    assert "left_arrow, right_arrow name a side" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        _steps(dataset, Augmentation("light", hflip=False), label_map)
    assert "name a side" not in caplog.text


@pytest.mark.slow
def test_tiny_run_with_background_pictures_and_preview(tmp_path):
    from PIL import Image

    pictures = make_pictures(tmp_path / "pictures", count=10)
    for index in range(3):  # background: an XML without any object
        name = f"empty{index}.jpg"
        Image.effect_noise((64, 64), 40).convert("RGB").save(pictures / name)
        write_xml(Annotation(name, 64, 64), pictures / f"empty{index}.xml")
    run_dir = tmp_path / "run"
    assert cli.main(["run", "-i", str(pictures), "--model", "ssd_mobilenet_v2", "--steps", "2",
                     "--run-dir", str(run_dir), "--batch-size", "4", "--from-scratch",
                     "--eval-mode", "none", "--no-export", "--no-report", "--augment", "light",
                     "--no-hflip", "--balance", "sqrt", "-sr", "0.7", *SIZE]) == 0
    content = json.loads((run_dir / "dataset" / "dataset.json").read_text())
    assert sum(s["background"] for s in content["splits"].values()) == 3
    assert content["balance"]["mode"] == "sqrt"
    options = yaml.safe_load((run_dir / "run.yaml").read_text())
    assert options["augmentations"] == ["random_adjust_brightness { max_delta: 0.1 }"]
    assert json.loads((run_dir / "train_done.json").read_text())["final_step"] == 2
    assert cli.main(["augment-preview", "--run-dir", str(run_dir), "--count", "4"]) == 0
    with Image.open(run_dir / "augment_preview.png") as grid:
        assert grid.format == "PNG" and grid.width > 200
    from odhelper.report.html import augmentation_section
    from odhelper.rundir import RunDir
    from odhelper.workflows.report import augmentation

    (run_dir / "augment_preview.png").unlink()  # the report makes its own
    section = augmentation_section(RunDir(run_dir), augmentation(RunDir(run_dir), 2))
    assert "random_adjust_brightness { max_delta: 0.1 }" in section
    assert 'src="data:image/png;base64,' in section and 'class="note"' not in section
