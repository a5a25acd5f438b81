"""odhelper predict: run an exported detector over pictures; draw, CSV, LabelImg XML."""
from __future__ import annotations

NAME = "predict"
HELP = "detect objects in pictures with an exported model: drawn pictures, CSV, XML"


def options_class():
    from odhelper.options.inference import PredictOptions
    return PredictOptions


def run(options) -> int:
    from odhelper.workflows.predict import predict

    predict(options)
    return 0
