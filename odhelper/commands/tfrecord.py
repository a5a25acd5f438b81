"""odhelper tfrecord: LabelImg XML -> validated, stratified, sharded TFRecords + label map."""
from __future__ import annotations

NAME = "tfrecord"
HELP = ("convert LabelImg / Pascal VOC XML (or COCO JSON, YOLO) into validated, stratified, sharded TFRecords, "
        "label_map.pbtxt, train/validate CSV and dataset.json")


def options_class():
    from odhelper.options.data import TfrecordOptions
    return TfrecordOptions


def run(options) -> int:
    from odhelper.data.build import build_dataset

    build_dataset(options)
    return 0
