"""`odhelper demo`: synthetic pictures -> tfrecord -> run -> evaluate -> predict -> report.

Every stage calls the library function of the matching command. The folder's
layout is rundir.DemoDir: synthetic/ (LabelImg pictures: images/, holdout/),
dataset/, run/ (the run directory), predictions/, demo.yaml (the options) and
demo.json (seconds per stage, metrics, mAP curve).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files, log
from odhelper.constants import COCO_AP50, COCO_MAP, PASCAL_CLASS_AP50, PASCAL_MAP50
from odhelper.demo.synth import SynthOptions, generate
from odhelper.options.demo import DemoOptions
from odhelper.options.fields import to_dict
from odhelper.rundir import DemoDir

MODEL = "ssd_mobilenet_v2_cpu"
HEADLINE_METRICS = (PASCAL_MAP50, COCO_MAP, COCO_AP50)


@dataclass
class DemoResult:
    folder: DemoDir
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    metrics: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)  # what to look at
    curve: list[dict] = field(default_factory=list)  # mAP@0.5 against training time
    evaluation: object = None  # the run's export's workflows.evaluate.Evaluation, if it made one

    def to_dict(self) -> dict:
        return {"seconds": {k: round(v, 1) for k, v in self.seconds.items()},
                "metrics": self.metrics, "curve": self.curve,
                "outputs": {k: str(v) for k, v in self.outputs.items()}}


def synth_options(options: DemoOptions) -> SynthOptions:
    return SynthOptions(out=DemoDir(options.out).synthetic, count=options.count,
                        holdout=options.holdout, pool=options.pool,
                        classes=list(options.classes), size=options.picture_size,
                        seed=options.seed, workers=options.workers)


def generate_pictures(options: DemoOptions) -> Path:
    """--generate-only: the synthetic LabelImg pictures (and pool); their folder."""
    synth = synth_options(options)
    with log.to_dir(options.out), log.stage("Synthetic pictures", "drawing", out=synth.out):
        generate(synth)
    return synth.out


def run_demo(options: DemoOptions) -> DemoResult:
    """Every stage in order; timings, metrics and outputs."""
    folder = DemoDir(options.out)
    result = DemoResult(folder)
    started = time.perf_counter()
    with folder.opened("demo", options, ("Demo", "demo"), steps=options.steps,
                       pictures=options.count) as opened:
        for name, stage in PIPELINE:
            with log.stage(f"Demo stage {name}", name) as timed:
                stage(options, result)
            result.seconds[name] = time.time() - timed.started
        opened.stage.extra.update({k: round(v, 4) for k, v in result.metrics.items()
                                   if k in HEADLINE_METRICS})
        result.seconds["total"] = time.perf_counter() - started
        files.write_json(folder.result_file, result.to_dict())
    return result


def _generate(options: DemoOptions, result: DemoResult) -> None:
    synth = synth_options(options)
    summary = reusable_pictures(synth)
    if summary is None:
        summary = generate(synth)
    else:
        log.info("Synthetic pictures reused: %s holds the same options", synth.out)
    result.metrics["boxes"] = summary["splits"]["images"]["boxes"]
    result.outputs["pictures"] = synth.out / "images"
    result.outputs["holdout"] = synth.out / "holdout"


def reusable_pictures(synth: SynthOptions) -> dict | None:
    """synth.json of an earlier identical generation whose files are all there, else None."""
    try:
        summary = json.loads((synth.out / "synth.json").read_text())
    except (OSError, ValueError):
        return None
    same = {k: v for k, v in summary.get("options", {}).items() if k != "workers"} == {
        k: v for k, v in to_dict(synth).items() if k != "workers"}
    jpgs = len(list((synth.out / "images").glob("*.jpg")))
    holdout = len(list((synth.out / "holdout").glob("*.jpg")))
    return summary if same and (jpgs, holdout) == (synth.count, synth.holdout) else None


def _tfrecord(options: DemoOptions, result: DemoResult) -> None:
    """`odhelper tfrecord -i .. -o .. -sr ..` as a call."""
    from odhelper.data.build import build_dataset, dataset_is_current
    from odhelper.datasetdir import DatasetDir
    from odhelper.options.data import TfrecordOptions

    folder = DemoDir(options.out)
    tfrecord_options = TfrecordOptions(
        input=result.outputs["pictures"], output=folder.dataset,
        split_ratio=round(1 - options.validate / options.count, 6), seed=options.seed,
        name="demo_shapes", copy_label_map=False)
    if dataset_is_current(tfrecord_options):
        log.info("TFRecords reused: %s matches the pictures and options", folder.dataset)
        dataset = DatasetDir(folder.dataset).summary().raw
    else:
        dataset = build_dataset(tfrecord_options)
    result.metrics["train_images"] = dataset["splits"]["train"]["images"]
    result.metrics["validate_images"] = dataset["splits"]["validate"]["images"]
    result.outputs["dataset"] = folder.dataset


def _run(options: DemoOptions, result: DemoResult) -> None:
    """`odhelper run --model ssd_mobilenet_v2_cpu --dataset .. --from-scratch` as a call."""
    from odhelper.options.training import RunOptions
    from odhelper.workflows.run import run

    folder = DemoDir(options.out)
    trained = run(RunOptions(
        model=MODEL, steps=options.steps, dataset=folder.dataset, run_dir=folder.run.root,
        eval_every=options.eval_every, batch_size=options.batch_size, from_scratch=True,
        image_size=options.image_size, anchors="template", report=False))
    result.outputs["run"] = folder.run.root
    result.metrics.update(trained.last_metrics)
    result.curve = eval_curve(trained.history, folder.run.timings)
    if trained.export is not None:
        result.outputs["export"] = folder.run.saved_model
        result.evaluation = getattr(trained.exported, "evaluation", None)


def _evaluate(options: DemoOptions, result: DemoResult) -> None:
    """`odhelper evaluate --run-dir RUN` (best checkpoint) as a call, unless the run's
    export has just evaluated that checkpoint: nothing is scored twice."""
    from odhelper.options.inference import EvaluateOptions
    from odhelper.workflows.evaluate import evaluate

    folder = DemoDir(options.out)
    evaluation = result.evaluation
    if evaluation is None:
        evaluation = evaluate(EvaluateOptions(run_dir=folder.run.root, tile=0))
    else:
        log.info("The export evaluated %s (step %d) on the validation split: %s kept, "
                 "not scored again", Path(evaluation.checkpoint).name, evaluation.step,
                 folder.run.eval_dir)
    result.metrics.update(evaluation.metrics)
    for row in evaluation.classes:
        log.info("Class %-10s AP@0.5 %.4f  COCO AP %.4f  (%d boxes)", row.name, row.ap_voc,
                 row.coco_ap, row.boxes)
    result.outputs["evaluation"] = folder.run.eval_dir


def _predict(options: DemoOptions, result: DemoResult) -> None:
    """`odhelper predict --model RUN -i HOLDOUT -o PREDICTIONS --xml` as a call."""
    from odhelper.options.inference import PredictOptions
    from odhelper.workflows.predict import predict

    folder = DemoDir(options.out)
    predicted = predict(PredictOptions(model=folder.run.root, input=result.outputs["holdout"],
                                       output=folder.predictions, xml=True,
                                       threshold=options.threshold))
    log.info("Predicted %d held-out pictures: %d detections, %.1f pictures/s",
             predicted.pictures, predicted.detections, predicted.images_per_second)
    result.outputs["predictions"] = folder.predictions


def _report(options: DemoOptions, result: DemoResult) -> None:
    from odhelper.options.inference import ReportOptions
    from odhelper.workflows.report import report

    folder = DemoDir(options.out)
    result.outputs["report"] = report(ReportOptions(run_dir=folder.run.root))


def eval_curve(history: list[dict], timings: Path) -> list[dict]:
    """[{step, minutes (since the run's first timed stage), mAP@0.5}] from the run's
    evaluation history."""
    from datetime import datetime

    records = [json.loads(line) for line in timings.read_text().splitlines()
               if line.strip()] if timings.is_file() else []
    starts = [datetime.fromisoformat(r["start"]) for r in records if r.get("start")]
    if not history or not starts:
        return []
    origin = min(starts)
    return [{"step": r["step"],
             "minutes": round((datetime.fromisoformat(r["time"]) - origin).total_seconds() / 60,
                              2),
             "map50": r["metrics"].get(PASCAL_MAP50), "coco_ap50": r["metrics"].get(COCO_AP50)}
            for r in history if PASCAL_MAP50 in r.get("metrics", {})]


def where_to_look(result: DemoResult) -> list[str]:
    """The closing lines: what was made and the commands to look at it."""
    lines = [f"Demo finished in {log.hms(result.seconds.get('total', 0))}"]
    for name, seconds in result.seconds.items():
        if name != "total":
            lines.append(f"  {name:<10} {log.hms(seconds)}")
    for name, value in result.metrics.items():
        if name in HEADLINE_METRICS or name.startswith(PASCAL_CLASS_AP50):
            lines.append(f"  {name} = {value:.4f}")
    for point in result.curve:
        lines.append(f"  step {point['step']} at {point['minutes']} min: Pascal mAP@0.5 "
                     f"{point['map50']:.4f}, COCO AP50 {point['coco_ap50']:.4f}")
    labels = {"pictures": "Synthetic LabelImg pictures", "dataset": "TFRecords",
              "run": "Run directory", "export": "Exported SavedModel",
              "predictions": "Predicted pictures", "report": "Report"}
    for key, label in labels.items():
        if key in result.outputs:
            lines.append(f"{label + ':':<30} {result.outputs[key]}")
    if "run" in result.outputs:
        lines.append(f"{'TensorBoard:':<30} tensorboard --logdir {result.outputs['run']}")
    return lines


PIPELINE = (("generate", _generate), ("tfrecord", _tfrecord), ("run", _run),
            ("evaluate", _evaluate), ("predict", _predict), ("report", _report))
