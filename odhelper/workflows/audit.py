"""`odhelper audit`: data health, then pictures ranked by how likely their boxes are
wrong, judged by detections of a model that did not train on them.

Without a run: the annotations are cut into K folds (the stratified split, near-
duplicates kept together); for each fold a dataset validating on it is converted and
a model is trained on the other folds within its share of --time, and its last
evaluation scores the fold. With --run-dir: the run's exported (else best) model
scores its validation and test pictures, the only ones it did not train on.

OUTPUT/ (or RUN/audit/): label_issues.csv, audit.html, issues/ (drawn), review/
(pictures + LabelImg XMLs), health.json, folds/fold-K/{dataset,run}, audit.yaml,
odhelper.log, timings.jsonl.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files, log, workspace
from odhelper.data import csvout, health
from odhelper.datasetdir import DatasetDir
from odhelper.errors import OdhelperError
from odhelper.metrics import label_issues
from odhelper.options.audit import AuditOptions
from odhelper.rundir import AuditDir, RunDir

FOLD_OVERHEAD = 20.0  # seconds of a fold's budget its conversion and start take at least
FOLD_SMALLEST = 96  # px: the folds' smallest input side
MULTI_CLASS_FACTOR = 1.8  # the folds' side over a run's when there are several classes
FEW_STEPS = 300  # a fold's model trained fewer steps than this is weak: said in the log


@dataclass
class AuditResult:
    output: Path
    scored: str  # which pictures were out-of-sample, said in words
    pictures: int
    ranked: list[label_issues.PictureIssues] = field(default_factory=list)
    health: health.Health | None = None
    csv: Path | None = None
    page: Path | None = None
    review: Path | None = None


def audit(options: AuditOptions) -> AuditResult:
    if options.run_dir:  # a wrong folder is said before anything is written
        RunDir(options.run_dir).require()
    folder = AuditDir(options.output) if options.output else RunDir(options.run_dir).audit
    with folder.opened("audit", options, ("Audit", "label audit")) as opened:
        result = _audit(options, folder)
        opened.stage.extra.update(pictures=result.pictures, scored=result.scored)
    return result


def _audit(options: AuditOptions, output: AuditDir) -> AuditResult:
    if options.run_dir:
        run_dir = RunDir(options.run_dir).require()
        dataset = run_dir.dataset_folder()
        if dataset is None or not DatasetDir(dataset).exists():
            raise OdhelperError(f"{run_dir}: its dataset folder is not recorded or gone")
        dataset = DatasetDir(dataset)
        found = _health(dataset, _input_size(run_dir), output)
        results, sources, scored = _from_run(run_dir, dataset)
    else:
        results, sources, scored, found, dataset = _from_folds(options, output)
    names = dataset.summary(check_shards=False).class_names
    ranked = label_issues.rank(results, names)
    log.info("Scored %d pictures (%s)", len(results), scored)
    _log_top(ranked, sources, options.top)
    from odhelper.report import audit_page

    result = AuditResult(output.root, scored, len(results), ranked, found)
    result.csv = audit_page.write_csv(ranked, sources, output.issues_csv)
    drawn = audit_page.draw_top(ranked, sources, output.drawn, options.top)
    result.review = audit_page.write_review(ranked, {r.image_id: r for r in results}, sources,
                                            names, output.review, options.top)
    facts = [f"Pictures scored: {len(results)}, {scored}.",
             f"Label issues: {result.csv.name}; the top {options.top} pictures with their "
             "boxes in review/ (LabelImg: Open Dir review/, fix, save)."]
    result.page = audit_page.page(found, ranked, sources, drawn, facts, output.page)
    log.info("Audit written: %s, %s, %s", result.csv, result.page, result.review)
    return result


def _log_top(ranked, sources, count: int) -> None:
    for rank, picture in enumerate(ranked[:min(count, 10)], 1):
        if not picture.issues:  # no box and no detection: nothing to doubt, nor below
            break
        worst = picture.issues[0]
        what = f"{worst.class_name}->{worst.suggested}" if worst.kind == "swap" else \
            worst.class_name or worst.suggested
        log.info("%2d. %s: %s %s (%.2f)", rank, sources.get(picture.picture, {}).get(
            "path", picture.picture), worst.kind, what, worst.score)


def _input_size(run_dir: RunDir) -> int:
    from odhelper.pipeline import config, fitting
    from odhelper.od import api

    configs = config.load(run_dir.pipeline_config)
    resizer = api().config_util.get_image_resizer_config(configs["model"])
    return fitting.resizer_size(resizer)[1] or 320


def _health(dataset: DatasetDir, input_size: int, output: AuditDir) -> health.Health:
    content = dataset.summary(check_shards=False).raw
    rows = csvout.read_pictures(dataset.pictures_csv) if dataset.pictures_csv.is_file() else []
    found = health.check(content, rows, input_size)
    log.info("Data health at a %d px input:\n%s", input_size, "\n".join(health.lines(found)))
    files.write_json(output.health, found.to_dict())
    return found


def _sources(dataset: DatasetDir, side: str, results, prefix: str) -> dict[str, dict]:
    """Name each result `prefix` + its image id and map it to its pictures.csv row (the
    evaluator numbers repeated file names '#2', '#3' in record order, as pictures.csv
    lists them)."""
    if not dataset.pictures_csv.is_file():
        raise OdhelperError(f"{dataset.root}: no pictures.csv (made by an older odhelper: "
                            "convert it again with odhelper tfrecord)")
    rows, seen = {}, {}
    for row in csvout.read_pictures(dataset.pictures_csv):
        if row["split"] == side:
            count = seen[row["filename"]] = seen.get(row["filename"], 0) + 1
            rows[row["filename"] if count == 1 else f"{row['filename']}#{count}"] = row
    found = {}
    for result in results:
        row = rows.get(result.image_id)
        result.image_id = prefix + result.image_id
        if row:
            found[result.image_id] = row
    return found


def _from_run(run_dir: RunDir, dataset: DatasetDir):
    from odhelper.workflows.evaluate import (exported_checkpoint, has_split, split_results,
                                             unique_ids)

    checkpoint = exported_checkpoint(run_dir)
    results, sources = [], {}
    sides = ("validate", "test") if has_split(run_dir, "test") else ("validate",)
    for side in sides:
        found, step = split_results(run_dir, checkpoint, side)
        unique_ids(found)
        sources.update(_sources(dataset, side, found, f"{side}:"))
        results += found
    scored = (f"the {' and '.join(sides)} pictures of {run_dir.root.name} (step {step}); its "
              "training pictures are not scored: the model learnt them")
    return results, sources, scored


def _from_folds(options: AuditOptions, output: AuditDir):
    from odhelper.data.build import build_dataset
    from odhelper.options.data import TfrecordOptions
    from odhelper.options.training import RunOptions
    from odhelper.workflows.run import run

    deadline = time.monotonic() + options.seconds
    inputs = _input_fields(options)
    results, sources, found = [], {}, None
    for fold in range(1, options.folds + 1):
        dataset_folder, run_dir = output.fold(fold)
        build_dataset(TfrecordOptions(**inputs, output=dataset_folder, seed=options.seed,
                                      fold=[fold, options.folds], name=f"fold-{fold}"))
        dataset = DatasetDir(dataset_folder)
        if found is None:
            size, reason, run_size = fold_size(
                dataset.summary(check_shards=False).raw.get("box_stats") or {}, options.model,
                options.image_size)
            log.info("Input size of the folds' model: %d px (%s)", size, reason)
            found = _health(dataset, run_size, output)
        share = (deadline - time.monotonic()) / (options.folds - fold + 1)
        if share < FOLD_OVERHEAD:
            raise OdhelperError(f"audit: --time {options.time} is used up before fold {fold} "
                                f"of {options.folds} (give more time or fewer --folds)")
        log.info("Fold %d of %d: training on the other folds for %.0f s", fold, options.folds,
                 share)
        trained = run(RunOptions(
            model=options.model, dataset=dataset_folder, run_dir=run_dir.root,
            time=f"{share:.0f}s", from_scratch=True, image_size=size,
            batch_size=options.batch_size, set=list(options.set), seed=options.seed,
            eval_every=10 ** 6, export=False, report=False))
        last = trained.history[-1]["step"] if trained.history else trained.final_step
        if last < FEW_STEPS:
            log.warning("Fold %d trained only %d steps at %d px in %.0f s: a model this short "
                        "ranks poorly (give more --time, or a smaller --image-size)",
                        fold, last, size, share)
        scored_pictures, scored_sources = fold_results(output, fold, last)
        sources.update(scored_sources)
        results += scored_pictures
    scored = (f"every picture, by {options.folds} models each trained on the other folds "
              f"({options.model}, {options.time} in all)")
    return results, sources, scored, found, dataset


def fold_results(output: AuditDir, fold: int, step: int | None = None):
    """Fold `fold`'s pictures as its model scored them at `step` (else at its run's latest
    evaluation), each named "fold K:" + its image id, and their pictures.csv rows."""
    from odhelper.metrics import stored
    from odhelper.workflows.evaluate import unique_ids

    dataset_folder, run_dir = output.fold(fold)
    if step is None:
        latest = run_dir.history.latest()
        if latest is None:
            raise OdhelperError(f"{run_dir}: fold {fold} was never evaluated")
        step = latest["step"]
    results, _ = stored.load(run_dir.evaluation().detections(step))
    unique_ids(results)
    return results, _sources(DatasetDir(dataset_folder), "validate", results, f"fold {fold}:")


def _input_fields(options: AuditOptions) -> dict:
    """The tfrecord input options: -i's flags, or those -d's dataset was made with."""
    if options.input is not None:
        return options.input_fields()
    from odhelper.options.data import TfrecordOptions
    from odhelper.options.fields import build, load_yaml

    made = DatasetDir(options.dataset).options_file
    if not made.is_file():
        raise OdhelperError(f"{options.dataset}: no {made.name}: not a dataset made by "
                            "odhelper tfrecord")
    fields = build(TfrecordOptions, load_yaml(TfrecordOptions, made)).input_fields()
    if fields.get("tile"):
        raise OdhelperError(f"{options.dataset}: cut into tiles; the audit scores whole "
                            f"pictures: give its input, -i {fields['input']}")
    return fields


def fold_size(stats: dict, model: str, image_size: int | None) -> tuple[int, str, int]:
    """The folds' input side, why, and the side the fitting rule gives a run (the one data
    health speaks of), from dataset.json's `stats`; --image-size wins. One class: the
    smallest side (a multiple of 32, from FOLD_SMALLEST) keeping the class's median box at
    twice the fitting rule's minimum, never above the run's: within a budget, fewer pixels
    buy more steps. Several: MULTI_CLASS_FACTOR times the run's side, within the fitting
    rule's cap: a swapped class shows only to a model that tells the classes apart, which
    takes more detail than finding the objects."""
    from odhelper.data import boxstats
    from odhelper.pipeline import fitting, registry

    if image_size:
        return image_size, "--image-size", image_size
    template = registry.get(model).input_size[0]
    smallest = boxstats.smallest_class(stats) if stats else None
    if smallest is None:
        return template, "the template's (no box statistics)", template
    fitted = fitting.needed_size(stats, template)[0]
    classes = [name for name, values in stats.get("classes", {}).items() if values.get("boxes")]
    if len(classes) > 1:
        wanted = health.side_at_least(fitted * MULTI_CLASS_FACTOR)
        size = min(wanted, template * fitting.MAX_SIZE_FACTOR)
        return size, (f"{len(classes)} classes: {MULTI_CLASS_FACTOR:g}x the {fitted} px a run "
                      f"would take{'' if size == wanted else ', capped'}, so that the folds' "
                      "models tell the classes apart"), fitted
    wanted = max(FOLD_SMALLEST, health.needed_side(smallest[1] / 2))
    size = min(fitted, wanted)
    return size, (f"one class: {smallest[0]!r} keeps {smallest[1] * size:.0f} px (a run would "
                  f"take {fitted} px; fewer pixels, more steps)"), fitted
