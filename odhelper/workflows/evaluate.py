"""`odhelper evaluate`: score a run's checkpoint on its evaluation records.

Writes into RUN/eval/ (RUN/eval/test/ with --split test): per_class.csv + .md (and
per_image.csv + .md with --per-image-table N), metrics.json (checkpoint, step, the
OD API metrics), and the error analysis (confusion matrix, FP kinds, threshold
curves, operating points, galleries; see metrics/errors.py). On the validation
split the operating points also go to RUN/export/thresholds.json, which
`odhelper predict` applies.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files, log
from odhelper.errors import OdhelperError
from odhelper.metrics import error_tables, errors, per_class, per_image, tables
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
    split: str = "validate"
    analysis: errors.ErrorAnalysis | None = None
    points: list[errors.OperatingPoint] = field(default_factory=list)
    thresholds_file: Path | None = None


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
    """Restore the checkpoint, detect on every record of the split, build and save
    the tables and the error analysis."""
    from odhelper.engine import detections
    from odhelper.engine.restore import checkpoint_step

    run_dir = RunDir(options.run_dir)
    configs = load_run_configs(run_dir)
    checkpoint = run_dir.checkpoint(options.checkpoint)
    label_map = run_label_map(run_dir, configs)
    categories = categories_of(label_map)
    records = detections.split_record_files(configs, options.split, options.records or None)
    results = detections.collect(configs, checkpoint, records, label_map)
    unique_ids(results)
    metrics = per_class.od_api_metrics(results, categories)
    evaluation = Evaluation(checkpoint, checkpoint_step(checkpoint), metrics,
                            per_class.class_table(results, categories, options.threshold,
                                                  metrics), split=options.split)
    place = run_dir.evaluation(options.split)
    evaluation.outputs += tables.save_class_table(evaluation.classes, place.root)
    if options.per_image_table:
        evaluation.letters = per_image.letter_table(results, categories,
                                                    options.per_image_table, options.threshold)
        evaluation.outputs += tables.save_letter_table(evaluation.letters, place.root)
    files.write_json(place.metrics, {
        "checkpoint": checkpoint, "step": evaluation.step, "records": records,
        "split": options.split, "threshold": options.threshold, "pictures": len(results),
        "metrics": metrics})
    evaluation.outputs.append(place.metrics)
    error_analysis(evaluation, options, results, categories, records, label_map, place)
    if options.split == "validate":
        evaluation.thresholds_file = error_tables.write_thresholds(
            error_tables.thresholds_record(
                evaluation.points, errors.choice_rule(options.target_precision,
                                                      options.target_recall),
                options.split, records, checkpoint, evaluation.step),
            run_dir.thresholds)
        evaluation.outputs.append(run_dir.thresholds)
    return evaluation


def error_analysis(evaluation: Evaluation, options: EvaluateOptions, results, categories,
                   records: list[str], label_map: Path, place) -> None:
    """Confusion matrix, FP kinds, curves, operating points and galleries into `place`."""
    from odhelper.engine import records as record_reader
    from odhelper.report import errors as pictures

    analysis = errors.analyse(results, categories, options.threshold)
    curves = errors.curves(results, categories)
    points = [errors.operating_point(curve, options.target_precision, options.target_recall)
              for curve in curves]
    evaluation.analysis, evaluation.points = analysis, points
    evaluation.outputs += error_tables.save(analysis, curves, points, place)
    for data, path in ((pictures.confusion_heatmap(analysis), place.confusion_png),
                       (pictures.threshold_curves(curves, points), place.curves_png),
                       (pictures.pr_curves(curves, points), place.pr_png)):
        evaluation.outputs.append(pictures.save_png(data, path))
    shutil.rmtree(place.galleries, ignore_errors=True)  # no stale pictures of an earlier run
    if options.gallery:
        wanted = pictures.needed_pictures(analysis, categories, options.gallery)
        drawn = pictures.galleries(analysis, results,
                                   record_reader.pictures(records, label_map, wanted),
                                   categories, options.gallery, place)
        evaluation.outputs += [p for kinds in drawn.values() for p in kinds.values()]
    for point in points:
        if not point.met:
            log.warning("%s: %s not reached; threshold %.3f kept", point.name,
                        errors.choice_rule(options.target_precision, options.target_recall),
                        point.threshold)


def has_split(run_dir: RunDir, split: str) -> bool:
    """Whether the run's dataset holds `split` (e.g. a test split)."""
    from odhelper.engine import detections

    try:
        detections.split_record_files(load_run_configs(run_dir), split)
        return True
    except OdhelperError:
        return False


def evaluate_after_run(run_dir: RunDir) -> None:
    """What `odhelper run` does after export: best/ on the validation split (tables,
    error analysis, RUN/export/thresholds.json), then once on the test split when
    the dataset has one, reported apart. A failure is logged; the run stands."""
    from odhelper.constants import PASCAL_MAP50

    for split in ("validate", "test"):
        if split == "test" and not has_split(run_dir, split):
            continue
        title = "Evaluate best" if split == "validate" else "Test split (scored once)"
        try:
            with log.stage(title, f"evaluation {split}", split=split) as stage:
                found = evaluate(EvaluateOptions(run_dir=run_dir.root, split=split,
                                                 per_image_table=10))
                stage.extra.update({"checkpoint step": found.step, f"{split} mAP@0.5": round(
                    found.metrics.get(PASCAL_MAP50, float("nan")), 6)})
            overall = found.classes[-1]
            log.info("%s: mAP@0.5 %.4f, precision %.4f, recall %.4f at %.2f (%d pictures) "
                     "-> %s", "TEST split" if split == "test" else "Validation split",
                     found.metrics.get(PASCAL_MAP50, float("nan")), overall.precision,
                     overall.recall, 0.5, overall.images, run_dir.evaluation(split).root)
        except Exception as error:  # noqa: BLE001 - the trained run stands
            log.warning("%s failed: %s", title, error)
