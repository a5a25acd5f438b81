"""`odhelper evaluate`: score a run's checkpoint on its evaluation records.

Writes into RUN/eval/ (RUN/eval/test/ with --split test): per_class.csv + .md (and
per_image.csv + .md with --per-image-table N), metrics.json (checkpoint, step, the
OD API metrics), and the error analysis (confusion matrix, FP kinds, threshold
curves, operating points and their thresholds.json, galleries; see
metrics/errors.py). When the checkpoint scored on the validation split is the
exported one, its operating points also go to RUN/export/thresholds.json, which
`odhelper predict` applies. The rule that chose them (max F1, a target precision or
recall) is recorded there and kept until the user asks for another.

A checkpoint the run already scored (its per-picture results are stored beside
the evaluation history) is not scored again.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files, log, signals
from odhelper.constants import HEADLINE_METRICS, PASCAL_MAP50
from odhelper.errors import OdhelperError
from odhelper.metrics import error_tables, errors, per_class, per_image, tables
from odhelper.options.inference import EvaluateOptions
from odhelper.datasetdir import DatasetDir
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
    thresholds_file: Path | None = None  # export/thresholds.json when it was (re)written
    rule: dict = field(default_factory=dict)  # {"target_precision": P} | {"target_recall": R} | {}
    reused: bool = False  # the run's stored per-picture results, not a new scoring
    tile: int = 0  # whole pictures scored by tiles of this size


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


def recorded_rule(run_dir: RunDir) -> dict:
    """The operating-point rule recorded in RUN/export/thresholds.json ({} = max F1)."""
    import json

    try:
        found = json.loads(run_dir.thresholds.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    rule = found.get("rule") if isinstance(found, dict) else None
    return {k: float(v) for k, v in rule.items() if k in RULE_KEYS} \
        if isinstance(rule, dict) else {}


RULE_KEYS = ("target_precision", "target_recall")


def chosen_rule(options: EvaluateOptions, run_dir: RunDir) -> dict:
    """The flags' rule when given, else the one recorded with the export."""
    given = {k: getattr(options, k) for k in RULE_KEYS if getattr(options, k) is not None}
    return given or recorded_rule(run_dir)


def _scored(run_dir: RunDir, configs, checkpoint: str, step: int, records: list[str],
            label_map: Path, stored_ok: bool):
    """Per-picture results of `checkpoint` on `records`: the ones the run stored when
    it scored this very checkpoint on these records, else a new scoring."""
    from odhelper.engine.evaluator import Evaluator
    from odhelper.engine.restore import restored
    from odhelper.metrics import stored

    saved = run_dir.evaluation().detections(step)
    if stored_ok and saved.is_file():
        results, facts = stored.load(saved)
        same_records = facts.get("records", "").split("\n") == list(records)
        kept = Path(str(facts.get("checkpoint") or ""))
        if same_records and Path(f"{kept}.index").is_file() and \
                exported_identity(run_dir, str(kept)) == exported_identity(run_dir, checkpoint):
            log.info("Per-picture results of step %d reused (%s): this checkpoint was scored "
                     "on these records during training", step, saved)
            return results, True
    found, _ = restored(configs, checkpoint)
    evaluator = Evaluator(found.model, configs, list(records))
    results, _ = evaluator.score(progress=True)
    found.status.assert_existing_objects_matched()
    return results, False


def split_results(run_dir: RunDir, checkpoint: str, split: str):
    """(per-picture results, step) of `checkpoint` on the run's `split` records."""
    from odhelper.engine import records
    from odhelper.engine.restore import checkpoint_step

    configs = load_run_configs(run_dir)
    checkpoint = run_dir.checkpoint(checkpoint)
    found = records.split_record_files(configs, split)
    step = checkpoint_step(checkpoint)
    if Path(checkpoint).parent.resolve() == run_dir.exported.checkpoint_dir.resolve():
        step = int(run_dir.exported.recorded().get("step", step))  # its copy saves no step
    results, _ = _scored(run_dir, configs, checkpoint, step, found,
                         run_label_map(run_dir, configs), stored_ok=split == "validate")
    return results, step


def evaluate(options: EvaluateOptions) -> Evaluation:
    """Score the checkpoint on every record of the split (or reuse the run's scoring
    of it), build and save the tables and the error analysis (the run folder opened
    for writing; nested in run, export or report it is already)."""
    run_dir = RunDir(options.run_dir).require()
    with run_dir.opened("evaluate", options, ("Evaluation", f"evaluation {options.split}"),
                        options_file=run_dir.evaluate_options,
                        checkpoint=options.checkpoint, split=options.split) as opened:
        evaluation = _evaluate(options, run_dir)
        opened.stage.extra.update(step=evaluation.step, checkpoint=evaluation.checkpoint)
        opened.stage.extra.update({k: round(evaluation.metrics[k], 6) for k in
                                   HEADLINE_METRICS if k in evaluation.metrics})
    return evaluation


def _evaluate(options: EvaluateOptions, run_dir: RunDir) -> Evaluation:
    from odhelper.engine import records
    from odhelper.engine.restore import checkpoint_step

    configs = load_run_configs(run_dir)
    label_map = run_label_map(run_dir, configs)
    categories = categories_of(label_map)
    records = records.split_record_files(configs, options.split, options.records or None)
    tile = _tile(options, run_dir)
    if tile:
        from odhelper.workflows.tiled_eval import tiled_results

        checkpoint, reused = exported_checkpoint(run_dir), False
        results, step, picture_files = tiled_results(run_dir, options.split, tile,
                                                     options.tile_overlap, label_map)
    else:
        picture_files = None  # the galleries' pictures come from the records
        checkpoint = run_dir.checkpoint(options.checkpoint)
        step = checkpoint_step(checkpoint)
        if Path(checkpoint).parent.resolve() == run_dir.exported.checkpoint_dir.resolve():
            step = int(run_dir.exported.recorded().get("step", step))  # its copy saves no step
        results, reused = _scored(run_dir, configs, checkpoint, step, records, label_map,
                                  stored_ok=options.split == "validate")
    unique_ids(results)
    metrics = per_class.od_api_metrics(results, categories)
    evaluation = Evaluation(checkpoint, step, metrics,
                            per_class.class_table(results, categories, options.threshold,
                                                  metrics), split=options.split,
                            rule=chosen_rule(options, run_dir), reused=reused, tile=tile)
    place = run_dir.evaluation(options.split, tiled=bool(tile))
    evaluation.outputs += tables.save_class_table(evaluation.classes, place.root)
    if options.per_image_table:
        evaluation.letters = per_image.letter_table(results, categories,
                                                    options.per_image_table, options.threshold)
        evaluation.outputs += tables.save_letter_table(evaluation.letters, place.root)
    files.write_json(place.metrics, {
        "checkpoint": checkpoint, "step": evaluation.step, "records": records,
        "split": options.split, "threshold": options.threshold, "pictures": len(results),
        "tile": {"size": tile, "overlap": options.tile_overlap} if tile else None,
        "metrics": metrics})
    evaluation.outputs.append(place.metrics)
    error_analysis(evaluation, options, results, categories, records, label_map, place,
                   picture_files)
    if options.split == "validate" and not tile:  # predict's points: whole-picture scoring
        _write_points(run_dir, evaluation, records, place)
    return evaluation


def _tile(options: EvaluateOptions, run_dir: RunDir) -> int:
    """--tile, else the tile size of the run's dataset (its examples are tiles: whole
    pictures are scored tile by tile), else 0."""
    if options.tile is not None:
        return options.tile
    folder = run_dir.dataset_folder()
    found = DatasetDir(folder).read_or_none() if folder else None
    size = int((found.raw.get("tile") or {}).get("size", 0)) if found else 0
    if size:
        log.info("The run's dataset is cut into %d px tiles: whole pictures are scored by "
                 "tiles (--tile 0: its tile records instead)", size)
    return size


def _write_points(run_dir: RunDir, evaluation: Evaluation, records: list[str], place) -> None:
    """The operating points: eval/thresholds.json always; export/thresholds.json only
    for the exported checkpoint (the one predict runs)."""
    record = error_tables.thresholds_record(
        evaluation.points, errors.choice_rule(evaluation.rule.get("target_precision"),
                                              evaluation.rule.get("target_recall")),
        evaluation.split, records, evaluation.checkpoint, evaluation.step)
    record["rule"] = evaluation.rule
    record["checkpoint_identity"] = exported_identity(run_dir, evaluation.checkpoint)
    evaluation.outputs.append(error_tables.write_thresholds(record, place.thresholds))
    exported = run_dir.exported.recorded()
    if run_dir.exports(evaluation.checkpoint):
        evaluation.thresholds_file = error_tables.write_thresholds(record, run_dir.thresholds)
        evaluation.outputs.append(run_dir.thresholds)
    elif exported:
        log.info("Operating points of %s written to %s only: the export holds %s",
                 Path(evaluation.checkpoint).name, place.thresholds,
                 exported.get("checkpoint"))


def error_analysis(evaluation: Evaluation, options: EvaluateOptions, results, categories,
                   records: list[str], label_map: Path, place,
                   picture_files: list[str] | None = None) -> None:
    """Confusion matrix, FP kinds, curves, operating points and galleries into `place`
    (the galleries' pictures read from `picture_files` when given, else the records)."""
    from odhelper.engine import records as record_reader
    from odhelper.report import errors as pictures

    analysis = errors.analyse(results, categories, options.threshold)
    curves = errors.curves(results, categories)
    rule = evaluation.rule
    points = [errors.operating_point(curve, rule.get("target_precision"),
                                     rule.get("target_recall")) for curve in curves]
    evaluation.analysis, evaluation.points = analysis, points
    evaluation.outputs += error_tables.save(analysis, curves, points, place)
    for data, path in ((pictures.confusion_heatmap(analysis), place.confusion_png),
                       (pictures.threshold_curves(curves, points), place.curves_png),
                       (pictures.pr_curves(curves, points), place.pr_png)):
        evaluation.outputs.append(pictures.save_png(data, path))
    shutil.rmtree(place.galleries, ignore_errors=True)  # no stale pictures of an earlier run
    if options.gallery:
        wanted = pictures.needed_pictures(analysis, categories, options.gallery)
        if picture_files is None:
            found = record_reader.pictures(records, label_map, wanted)
        else:
            from odhelper.engine.tiled import read_pixels
            found = {index: read_pixels(picture_files[index]) for index in wanted}
        drawn = pictures.galleries(analysis, results, found, categories, options.gallery,
                                   place)
        evaluation.outputs += [p for kinds in drawn.values() for p in kinds.values()]
    for point in points:
        if not point.met:
            log.warning("%s: %s not reached; threshold %.3f kept", point.name,
                        errors.choice_rule(rule.get("target_precision"),
                                           rule.get("target_recall")), point.threshold)


def has_split(run_dir: RunDir, split: str) -> bool:
    """Whether the run's dataset holds `split` (e.g. a test split)."""
    from odhelper.engine import records

    try:
        records.split_record_files(load_run_configs(run_dir), split)
        return True
    except OdhelperError:
        return False


def log_headline(evaluation: Evaluation, run_dir: RunDir) -> None:
    overall = evaluation.classes[-1]
    tiled = evaluation.tile
    log.info("%s%s: mAP@0.5 %.4f, precision %.4f, recall %.4f at %.2f (%d pictures) -> %s",
             "TEST split" if evaluation.split == "test" else "Validation split",
             f", whole pictures by {tiled} px tiles" if tiled else "",
             evaluation.metrics.get(PASCAL_MAP50, float("nan")), overall.precision,
             overall.recall, 0.5, overall.images,
             run_dir.evaluation(evaluation.split, tiled=bool(tiled)).root)


def evaluate_exported(run_dir: RunDir, checkpoint: str) -> Evaluation:
    """The exported checkpoint on the validation split: tables, error analysis and the
    operating points shipped with the model (the recorded rule)."""
    found = evaluate(EvaluateOptions(run_dir=run_dir.root, checkpoint=checkpoint, tile=0,
                                     per_image_table=10))
    log_headline(found, run_dir)
    return found


def score_test_split(run_dir: RunDir) -> None:
    """What `odhelper run` does at its end when the dataset has a test split: the
    exported checkpoint scored on it once, reported apart. A failure is logged; the
    run stands."""
    if not has_split(run_dir, "test") or _scored_already(run_dir, "test", 0):
        return
    try:
        found = evaluate(EvaluateOptions(run_dir=run_dir.root, split="test", tile=0,
                                         checkpoint=exported_checkpoint(run_dir),
                                         per_image_table=10))
        log_headline(found, run_dir)
    except Exception as error:  # noqa: BLE001 - the trained run stands
        signals.raise_stop_behind(error)
        log.warning("Test split evaluation failed: %s", error)


def score_tiled(run_dir: RunDir) -> None:
    """What `odhelper run` does at its end when its dataset is cut into tiles: whole
    validation pictures scored by tiles with the export (the figure that counts). A
    failure is logged; the run stands."""
    tile = _tile(EvaluateOptions(run_dir=run_dir.root), run_dir)
    if not tile or _scored_already(run_dir, "validate", tile):
        return
    try:
        log_headline(evaluate(EvaluateOptions(run_dir=run_dir.root)), run_dir)
    except Exception as error:  # noqa: BLE001 - the trained run stands
        signals.raise_stop_behind(error)
        log.warning("Tiled evaluation failed: %s", error)


def _scored_already(run_dir: RunDir, split: str, tile: int) -> bool:
    """Whether `split` (by `tile` px tiles) was scored with the current export (a run
    repeated when finished does not score it again)."""
    import json

    place = run_dir.evaluation(split, tiled=bool(tile))
    try:
        scored = json.loads(place.metrics.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    exported = run_dir.exported.recorded()
    current = bool(exported) and scored.get("step") == exported.get("step") and \
        scored.get("checkpoint") == exported_checkpoint(run_dir) and \
        (scored.get("tile") or {}).get("size", 0) == tile
    if current:
        log.info("%s: already scored with the exported step %s (%s)", split, scored["step"],
                 place.metrics)
    return current


def exported_checkpoint(run_dir: RunDir) -> str:
    """The checkpoint the export was made from, else best."""
    return run_dir.exported.source_checkpoint(run_dir) or "best"


def exported_identity(run_dir: RunDir, checkpoint: str) -> str:
    """The identity thresholds.json records: the export's own copy counts as the
    checkpoint it was made from."""
    from odhelper.checkpoints import checkpoint_identity

    if Path(checkpoint).parent.resolve() == run_dir.exported.checkpoint_dir.resolve():
        return run_dir.exported.recorded().get("identity", "")
    return checkpoint_identity(checkpoint)
