"""More boxes in a picture than the templates' max_number_of_boxes: warned at tfrecord
(dataset.json records the maximum) and at config, whose limits are raised to fit."""
from __future__ import annotations

import logging

from PIL import Image

from data_support import options
from odhelper.data.annotation import Annotation, Box, write_xml
from odhelper.data.build import build_dataset

CROWD = 130


def _picture(folder, stem: str, count: int, shade: int) -> None:
    Image.new("RGB", (260, 260), (shade, 200, 200)).save(folder / f"{stem}.jpg")
    boxes = [Box("dot", 20 * (n % 13), 20 * (n // 13), 20 * (n % 13) + 15,
                 20 * (n // 13) + 15) for n in range(count)]
    write_xml(Annotation(f"{stem}.jpg", 260, 260, boxes=boxes), folder / f"{stem}.xml")


def test_crowded_picture_warned_and_config_raised(tmp_path, caplog):
    from odhelper.pipeline import config

    folder = tmp_path / "in"
    folder.mkdir()
    _picture(folder, "crowd", CROWD, 0)
    for number in range(3):
        _picture(folder, f"few{number}", 3, 50 * (number + 1))
    with caplog.at_level(logging.INFO):
        content = build_dataset(options(folder, tmp_path / "dataset", split_ratio=0.5))
    assert content["max_boxes_per_image"] == CROWD
    crowded = [p for p in content["problems"] if p["reason"] == "many_boxes"]
    assert [p["file"] for p in crowded] == ["crowd.xml"]
    assert "crowd.jpg has 130 boxes" in crowded[0]["detail"]
    assert "many_boxes" in caplog.text and "crowd.xml" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.INFO):
        configs = config.fill(config.FillRequest(model="ssd_mobilenet_v2",
                                                 dataset=tmp_path / "dataset"))
    assert configs["train_input_config"].max_number_of_boxes == CROWD
    assert all(r.max_number_of_boxes >= CROWD for r in configs["eval_input_configs"])
    nms = configs["model"].ssd.post_processing.batch_non_max_suppression
    assert nms.max_total_detections >= CROWD and nms.max_detections_per_class >= CROWD
    assert "crowd.jpg" in caplog.text and "raised to 130" in caplog.text
