"""`odhelper evaluate`: score a run's checkpoint on its evaluation records.

Writes into RUN/eval/: per_class.csv + .md (and per_image.csv + .md with
--per-image-table N) and metrics.json (checkpoint, step, the OD API metrics).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files
from odhelper.errors import OdhelperError
from odhelper.metrics import per_class, per_image, tables
from odhelper.options.inference import EvaluateOptions
from odhelper.rundir import RunDir


@dataclass
class Evaluation:
    checkpoint: str
    step: int
    metrics: dict[str, float]
    classes: list[per_class.ClassRow]
    letters: list[per_image.LetterRow] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)


def run_label_map(run_dir: RunDir, configs) -> Path:
    """RUN/label_map.pbtxt, else the eval input reader's label_map_path."""
    candidates = [run_dir.label_map] + [Path(r.label_map_path)
                                        for r in configs["eval_input_configs"]]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise OdhelperError(f"{run_dir}: no {run_dir.label_map.name} (nor the config's "
                        "label_map_path)")


def categories_of(label_map: Path) -> list[dict]:
    from odhelper.data import labelmap

    items = sorted(labelmap.read(label_map).items(), key=lambda kv: kv[1])
    return [{"id": number, "name": name} for name, number in items]


def unique_ids(results) -> None:
    """The evaluators key pictures by id: make repeated file names distinct."""
    seen: dict[str, int] = {}
    for result in results:
        count = seen.get(result.image_id, 0)
        seen[result.image_id] = count + 1
        if count:
            result.image_id = f"{result.image_id}#{count + 1}"


def load_run_configs(run_dir: RunDir | Path):
    from odhelper.pipeline import config

    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    return config.load(run_dir.require().pipeline_config)


def evaluate(options: EvaluateOptions) -> Evaluation:
    """Restore the checkpoint, detect on every eval record, build and save the tables."""
    from odhelper.engine import detections
    from odhelper.engine.restore import checkpoint_step

    run_dir = RunDir(options.run_dir)
    configs = load_run_configs(run_dir)
    checkpoint = run_dir.checkpoint(options.checkpoint)
    label_map = run_label_map(run_dir, configs)
    categories = categories_of(label_map)
    records = detections.eval_record_files(configs, options.records or None)
    results = detections.collect(configs, checkpoint, records, label_map)
    unique_ids(results)
    metrics = per_class.od_api_metrics(results, categories)
    evaluation = Evaluation(checkpoint, checkpoint_step(checkpoint), metrics,
                            per_class.class_table(results, categories, options.threshold,
                                                  metrics))
    out = run_dir.eval_dir
    evaluation.outputs += tables.save_class_table(evaluation.classes, out)
    if options.per_image_table:
        evaluation.letters = per_image.letter_table(results, categories,
                                                    options.per_image_table, options.threshold)
        evaluation.outputs += tables.save_letter_table(evaluation.letters, out)
    files.write_json(run_dir.eval_metrics, {
        "checkpoint": checkpoint, "step": evaluation.step, "records": records,
        "threshold": options.threshold, "pictures": len(results), "metrics": metrics})
    evaluation.outputs.append(run_dir.eval_metrics)
    return evaluation
