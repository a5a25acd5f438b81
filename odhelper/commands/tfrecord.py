"""odhelper tfrecord: LabelImg XML -> validated, stratified, sharded TFRecords + label map."""
from __future__ import annotations

NAME = "tfrecord"
HELP = ("convert LabelImg / Pascal VOC XML into validated, stratified, sharded TFRecords, "
        "label_map.pbtxt, train/validate CSV and dataset.json")


def add_arguments(parser) -> None:
    from odhelper.options.data import TfrecordOptions
    from odhelper.options.fields import add_arguments as add_options

    add_options(parser, TfrecordOptions)


def main(args) -> int:
    from odhelper import log
    from odhelper.data.build import build_dataset
    from odhelper.options.data import TfrecordOptions
    from odhelper.options.fields import from_namespace

    options = from_namespace(TfrecordOptions, args)
    log.setup(options.output, verbose=args.verbose)
    with log.stage("TF Record Generator", "conversion", input=options.input,
                   output=options.output) as stage:
        content = build_dataset(options)
        for side in ("train", "validate"):
            stage.extra[f"{side} images"] = content["splits"][side]["images"]
        stage.extra["problems"] = len(content["problems"])
    return 0
