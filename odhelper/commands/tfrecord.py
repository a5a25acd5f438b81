"""odhelper tfrecord: LabelImg XML -> validated, stratified, sharded TFRecords + label map."""
from __future__ import annotations

NAME = "tfrecord"
HELP = ("convert LabelImg / Pascal VOC XML (or COCO JSON, YOLO) into validated, stratified, sharded TFRecords, "
        "label_map.pbtxt, train/validate CSV and dataset.json")


def options_class():
    from odhelper.options.data import TfrecordOptions
    return TfrecordOptions


def run(options) -> int:
    from odhelper import lock, log
    from odhelper.data.build import build_dataset
    from odhelper.options.fields import save_yaml

    with lock.held(options.output, "tfrecord"), log.to_dir(options.output), log.stage(
            "TF Record Generator", "conversion", input=options.input,
            output=options.output) as stage:
        save_yaml(options, options.output / "tfrecord.yaml")  # nothing may fail after the dataset
        content = build_dataset(options)
        for side in ("train", "validate"):
            stage.extra[f"{side} images"] = content["splits"][side]["images"]
        stage.extra["problems"] = len(content["problems"])
    return 0
