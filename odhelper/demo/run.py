"""`odhelper demo`: synthetic pictures -> tfrecord -> run -> evaluate -> predict -> report.

Every stage calls the library function the matching command uses; a stage
whose library is not installed in this tree is skipped with a log line that
names it (never faked). Layout under `out`:
    synthetic/   LabelImg pictures (images/, holdout/) + synth.json
    dataset/     TFRecords, label map, dataset.json
    run/         the run directory (checkpoints, eval/, export/, TensorBoard, report.html)
    predictions/ held-out pictures with predicted boxes, detections.csv, XML
    demo.yaml    the options; demo.json: seconds per stage, metrics, mAP curve
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files, log
from odhelper.demo import stages
from odhelper.demo.synth import SynthOptions, generate
from odhelper.errors import UsageError
from odhelper.options.fields import option, save_yaml, to_dict


@dataclass
class DemoOptions:
    out: Path = option(Path("runs/demo"), "demo folder (pictures, dataset, run, report)",
                       flags=("-o",))
    steps: int = option(1500, "training steps (batch 16, ~0.17-0.3 s/step on 2 cores)",
                        flags=("-n",))
    count: int = option(5000, "synthetic labelled pictures (train + validate)")
    validate: int = option(150, "of those, pictures kept for validation")
    holdout: int = option(8, "extra unseen pictures to run predict on")
    classes: list[str] = option(help="shape classes (circle square triangle star cross)",
                                factory=lambda: ["circle", "square", "triangle"])
    eval_every: int = option(500, "evaluate on the validation pictures every N steps")
    batch_size: int = option(16, "training batch size")
    image_size: int = option(160, "model input side in pixels")
    picture_size: int = option(256, "synthetic picture side in pixels")
    threshold: float = option(0.3, "score threshold of the boxes drawn on predicted pictures")
    seed: int = option(7, "seed of the pictures and the split")
    workers: int = option(0, "processes drawing pictures (0 = one per core)")

    def __post_init__(self):
        self.out = Path(self.out)
        for name in ("steps", "count", "validate", "eval_every", "batch_size"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1")
        if self.validate >= self.count:
            raise UsageError(f"--validate ({self.validate}) must be below --count ({self.count})")
        if not 0.0 <= self.threshold <= 1.0:
            raise UsageError(f"--threshold must be within 0..1, got {self.threshold}")
        if self.image_size < 32:
            raise UsageError(f"--image-size must be >= 32, got {self.image_size}")

    @property
    def paths(self) -> "DemoPaths":
        return DemoPaths(self.out)


@dataclass(frozen=True)
class DemoPaths:
    out: Path

    synthetic = property(lambda self: self.out / "synthetic")
    dataset = property(lambda self: self.out / "dataset")
    run = property(lambda self: self.out / "run")
    predictions = property(lambda self: self.out / "predictions")


@dataclass
class DemoResult:
    paths: DemoPaths
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    skipped: dict[str, str] = field(default_factory=dict)  # stage -> why
    metrics: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)  # what to look at
    curve: list[dict] = field(default_factory=list)  # mAP@0.5 against training time

    def to_dict(self) -> dict:
        return {"seconds": {k: round(v, 1) for k, v in self.seconds.items()},
                "metrics": self.metrics, "curve": self.curve, "skipped": self.skipped,
                "outputs": {k: str(v) for k, v in self.outputs.items()}}


def synth_options(options: DemoOptions) -> SynthOptions:
    return SynthOptions(out=options.paths.synthetic, count=options.count,
                        holdout=options.holdout, classes=list(options.classes),
                        size=options.picture_size, seed=options.seed, workers=options.workers)


def run_demo(options: DemoOptions) -> DemoResult:
    """Run every available stage in order; return timings, metrics and outputs."""
    paths = options.paths
    paths.out.mkdir(parents=True, exist_ok=True)
    save_yaml(options, paths.out / "demo.yaml")
    result = DemoResult(paths)
    started = time.perf_counter()
    with log.stage("Demo", "demo", steps=options.steps, pictures=options.count) as demo:
        _timed(result, "generate", lambda: _generate(options, result))
        for name, function in stages.PIPELINE:
            missing = stages.missing_library(name)
            needs = stages.needs_missing_input(name, result)
            if missing or needs:
                result.skipped[name] = missing or needs
                log.warning("Demo stage %s skipped: %s", name, result.skipped[name])
                continue
            try:
                _timed(result, name, lambda f=function: f(options, result))
            except ModuleNotFoundError as exc:  # a part of that library is still missing
                if not (exc.name or "").startswith("odhelper"):
                    raise
                result.skipped[name] = f"{exc.name} is not in this odhelper"
                log.warning("Demo stage %s skipped: %s", name, result.skipped[name])
        demo.extra.update({k: round(v, 4) for k, v in result.metrics.items()
                           if k in stages.HEADLINE_METRICS})
    result.seconds["total"] = time.perf_counter() - started
    files.write_json(paths.out / "demo.json", result.to_dict())
    return result


def _timed(result: DemoResult, name: str, function) -> None:
    """Run one stage under a timer; its record lands in the demo's timings.jsonl."""
    with log.stage(f"Demo stage {name}", name) as stage:
        function()
    result.seconds[name] = time.time() - stage.started


def _generate(options: DemoOptions, result: DemoResult) -> None:
    synth = synth_options(options)
    summary = reusable_pictures(synth)
    if summary is None:
        summary = generate(synth)
    else:
        log.info("Synthetic pictures reused: %s holds the same options", synth.out / "synth.json")
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


def where_to_look(result: DemoResult) -> list[str]:
    """The closing lines: what was made and the commands to look at it."""
    lines = [f"Demo finished in {log.hms(result.seconds.get('total', 0))}"]
    for name, seconds in result.seconds.items():
        if name != "total":
            lines.append(f"  {name:<10} {log.hms(seconds)}")
    for name, value in result.metrics.items():
        if name in stages.HEADLINE_METRICS or "PerformanceByCategory/AP@0.5IOU" in name:
            lines.append(f"  {name} = {value:.4f}")
    for point in result.curve:
        lines.append(f"  step {point['step']} at {point['minutes']} min: Pascal mAP@0.5 "
                     f"{point['map50']}, COCO AP50 {point['coco_ap50']}")
    for name, reason in result.skipped.items():
        lines.append(f"  skipped {name}: {reason}")
    labels = {"pictures": "Synthetic LabelImg pictures", "dataset": "TFRecords",
              "run": "Run directory", "export": "Exported SavedModel",
              "predictions": "Predicted pictures", "report": "Report"}
    for key, label in labels.items():
        if key in result.outputs:
            lines.append(f"{label + ':':<30} {result.outputs[key]}")
    if "run" in result.outputs:
        lines.append(f"{'TensorBoard:':<30} tensorboard --logdir {result.outputs['run']}")
    return lines
