"""The demo's stages after picture generation, each one call into the library
function behind the matching command (tfrecord, run, evaluate, predict, report).

A stage whose library is not in this odhelper is reported as not available
and skipped, as are the stages that need its output: never faked.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from odhelper import log
from odhelper.errors import OdhelperError

if TYPE_CHECKING:
    from odhelper.demo.run import DemoOptions, DemoResult

MODEL = "ssd_mobilenet_v2_cpu"
TEMPLATE_IMAGE_SIZE = 160  # pipelines/ssd_mobilenet_v2_cpu.config's fixed_shape_resizer
HEADLINE_METRICS = ("PascalBoxes_Precision/mAP@0.5IOU", "DetectionBoxes_Precision/mAP",
                    "DetectionBoxes_Precision/mAP@.50IOU")
# stage -> (module, function) it calls
LIBRARIES = {"tfrecord": ("odhelper.data.build", "build_dataset"),
             "run": ("odhelper.engine.runner", "run"),
             "evaluate": ("odhelper.metrics.evaluate", "evaluate"),
             "predict": ("odhelper.report.predictions", "predict"),
             "report": ("odhelper.report", "build_report")}
# stage -> the output (DemoResult.outputs key) it needs from an earlier stage
NEEDS = {"tfrecord": "pictures", "run": "dataset", "evaluate": "run", "predict": "export",
         "report": "run"}


def missing_library(name: str) -> str | None:
    """Why stage `name` cannot run in this odhelper, or None."""
    import importlib
    import importlib.util

    module, function = LIBRARIES[name]
    if (importlib.util.find_spec(module) is None
            or not hasattr(importlib.import_module(module), function)):
        return f"{module}.{function} (the `odhelper {name}` library) is not in this odhelper"
    return None


def needs_missing_input(name: str, result: "DemoResult") -> str | None:
    need = NEEDS.get(name)
    if need and need not in result.outputs:
        return f"needs the {need} output of an earlier stage, which did not run"
    return None


def tfrecord(options: "DemoOptions", result: "DemoResult") -> None:
    """The tfrecord library call `odhelper tfrecord -i .. -o .. -sr ..` makes."""
    from odhelper.data.build import build_dataset, dataset_is_current
    from odhelper.options.data import TfrecordOptions

    paths = options.paths
    tfrecord_options = TfrecordOptions(
        input=paths.synthetic / "images", output=paths.dataset,
        split_ratio=round(1 - options.validate / options.count, 6), seed=options.seed,
        name="demo_shapes", copy_label_map=False)
    if dataset_is_current(tfrecord_options):
        log.info("TFRecords reused: %s matches the pictures and options", paths.dataset)
        dataset = json.loads((paths.dataset / "dataset.json").read_text())
    else:
        dataset = build_dataset(tfrecord_options)
    result.metrics["train_images"] = dataset["splits"]["train"]["images"]
    result.metrics["validate_images"] = dataset["splits"]["validate"]["images"]
    result.outputs["dataset"] = paths.dataset


def run(options: "DemoOptions", result: "DemoResult") -> None:
    """`odhelper run --model ssd_mobilenet_v2_cpu --dataset .. --from-scratch` as a call."""
    from odhelper.engine.options import RunOptions
    from odhelper.engine.runner import run as run_training

    paths = options.paths
    overrides = []
    if options.image_size != TEMPLATE_IMAGE_SIZE:
        overrides = [f"model.ssd.image_resizer.fixed_shape_resizer.{side}={options.image_size}"
                     for side in ("height", "width")]
    try:
        code = run_training(RunOptions(
            model=MODEL, steps=options.steps, dataset=paths.dataset, run_dir=paths.run,
            eval_every=options.eval_every, batch_size=options.batch_size, from_scratch=True,
            set=overrides, report=False))
    finally:
        log.setup(options.out)  # the run logs into its own directory
    if code:
        raise OdhelperError(f"{paths.run}: odhelper run ended with status {code} "
                            f"(see {paths.run / log.LOG_FILE})")
    result.outputs["run"] = paths.run
    result.metrics.update(last_eval_metrics(paths.run))
    result.curve = eval_curve(paths.run)
    saved_model = paths.run / "export" / "saved_model"
    if (saved_model / "saved_model.pb").exists():
        result.outputs["export"] = saved_model


def evaluate(options: "DemoOptions", result: "DemoResult") -> None:
    """`odhelper evaluate --run-dir RUN` (best checkpoint) as a library call."""
    from odhelper.metrics.evaluate import EvaluateOptions, evaluate as run_evaluation

    try:
        evaluation = run_evaluation(EvaluateOptions(run_dir=options.paths.run))
    finally:
        log.setup(options.out)
    result.metrics.update(evaluation.metrics)
    for row in evaluation.classes:
        log.info("Class %-10s AP@0.5 %.4f  COCO AP %.4f  (%d boxes)", row.name, row.ap_voc,
                 row.coco_ap, row.boxes)
    result.outputs["evaluation"] = options.paths.run / "eval"


def predict(options: "DemoOptions", result: "DemoResult") -> None:
    """`odhelper predict --model RUN -i HOLDOUT -o PREDICTIONS --xml` as a library call."""
    from odhelper.report.predictions import PredictOptions, predict as run_predict

    paths = options.paths
    predicted = run_predict(PredictOptions(model=paths.run, input=paths.synthetic / "holdout",
                                           output=paths.predictions, xml=True,
                                           threshold=options.threshold))
    log.info("Predicted %d held-out pictures: %d detections, %.1f pictures/s",
             predicted.pictures, predicted.detections, predicted.images_per_second)
    result.outputs["predictions"] = paths.predictions


def report(options: "DemoOptions", result: "DemoResult") -> None:
    from odhelper.report import build_report

    html = build_report(options.paths.run)
    result.outputs["report"] = Path(html) if html else options.paths.run / "report.html"


def eval_records(run_dir: Path) -> list[dict]:
    """The evaluation records of RUN/timings.jsonl (those carrying OD API metrics)."""
    timings = run_dir / log.TIMINGS_FILE
    if not timings.exists():
        return []
    records = [json.loads(line) for line in timings.read_text().splitlines() if line.strip()]
    return [r for r in records if any(k in r for k in HEADLINE_METRICS)]


def last_eval_metrics(run_dir: Path) -> dict[str, float]:
    """Metrics of the last evaluation in RUN/timings.jsonl (OD API key names)."""
    records = eval_records(run_dir)
    if not records:
        return {}
    return {k: float(v) for k, v in records[-1].items()
            if isinstance(v, (int, float)) and "/" in k}


def eval_curve(run_dir: Path) -> list[dict]:
    """[{step, minutes (since the first record), mAP@0.5}] from RUN/timings.jsonl."""
    from datetime import datetime

    records = eval_records(run_dir)
    if not records:
        return []
    lines = (run_dir / log.TIMINGS_FILE).read_text().splitlines()
    starts = [json.loads(line).get("start") for line in lines if line.strip()]
    origin = min(datetime.fromisoformat(start) for start in starts if start)
    return [{"step": r.get("step"),
             "minutes": round((datetime.fromisoformat(r["end"]) - origin).total_seconds() / 60, 2),
             "map50": r.get(HEADLINE_METRICS[0]), "coco_ap50": r.get(HEADLINE_METRICS[2])}
            for r in records]


PIPELINE = (("tfrecord", tfrecord), ("run", run), ("evaluate", evaluate),
            ("predict", predict), ("report", report))
