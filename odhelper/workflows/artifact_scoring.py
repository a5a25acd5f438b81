"""One row of export's artifact table: an exported artifact scored on the validation
pictures with `evaluate`'s per-class table, and timed per picture on this machine.

The SavedModel row reuses the run's own scoring of the exported checkpoint when the
run stored it (the same weights, pictures and preprocessing): the SavedModel then
only runs on a few pictures, to time it and to check that it detects what the
stored scoring says; a disagreement means a full scoring.
"""
from __future__ import annotations

import functools
from pathlib import Path

from odhelper import log
from odhelper.metrics import artifacts, per_class
from odhelper.rundir import RunDir

PROBE_PICTURES = 8


@functools.lru_cache(maxsize=2)
def _pictures(files: tuple[str, ...], label_map: str):
    """Validation pictures decoded once, scored by every artifact of one export."""
    from odhelper.engine import artifact_check

    return artifact_check.validation_pictures(list(files), Path(label_map))


def score(run_dir: RunDir, name: str, path: Path, threshold: float) -> dict:
    """The artifact's row (ArtifactRow.to_dict())."""
    from odhelper.engine import artifact_check, predictor, records
    from odhelper.workflows.evaluate import (categories_of, load_run_configs, run_label_map,
                                             unique_ids)

    configs = load_run_configs(run_dir)
    label_map = run_label_map(run_dir, configs)
    categories = categories_of(label_map)
    files = tuple(records.eval_record_files(configs, None))
    with log.stage(f"Check {name}", "check", file=path.name) as stage:
        model = predictor.load_model(path)
        pictures = _pictures(files, str(label_map))
        results, latency = None, None
        if name == artifacts.BASELINE:
            results, latency = _from_the_run(run_dir, model, pictures, files)
        if results is None:
            scored = artifact_check.run_artifact(model, pictures)
            results, latency = scored.results, scored.latency_ms
        unique_ids(results)
        metrics = per_class.od_api_metrics(results, categories)
        row = artifacts.ArtifactRow(
            name, path.relative_to(run_dir.export).as_posix(),
            artifact_check.size_on_disk(path), latency,
            sum(len(r.detections) for r in results),
            per_class.class_table(results, categories, threshold, metrics),
            [artifacts.top_scores(r.detections.scores) for r in results])
        stage.extra.update({"mAP@0.5": round(row.map50, 4), "ms/picture":
                            round(row.latency_ms, 1), "MB": round(row.size_bytes / 1e6, 2)})
    return row.to_dict()


def _from_the_run(run_dir: RunDir, model, pictures, records: tuple[str, ...]):
    """(results, latency) from the run's stored scoring of the exported checkpoint,
    after the SavedModel agreed with it on a few pictures; (None, None) otherwise."""
    from odhelper.engine import artifact_check
    from odhelper.metrics import stored

    exported = run_dir.exported.recorded()
    saved = run_dir.evaluation().detections(int(exported.get("step", -1)))
    if not saved.is_file():
        return None, None
    results, facts = stored.load(saved)
    kept = Path(str(facts.get("checkpoint") or ""))
    if facts.get("records", "").split("\n") != list(records) or len(results) != len(pictures) \
            or not run_dir.exported.holds(kept):
        return None, None
    probe = artifact_check.run_artifact(model, pictures[:PROBE_PICTURES])
    worst = max((artifacts.score_difference(artifacts.top_scores(a.detections.scores),
                                            artifacts.top_scores(b.detections.scores))
                 for a, b in zip(probe.results, results)), default=0.0)
    if worst > artifacts.SCORE_AGREEMENT:
        log.warning("SavedModel and the run's scoring of %s differ (score difference %.3f "
                    "on a probe picture): scoring the SavedModel on every picture",
                    exported.get("checkpoint"), worst)
        return None, None
    log.info("SavedModel row: the run's scoring of %s (step %s), the SavedModel agreeing on "
             "%d probe pictures (largest score difference %.4f)", exported.get("checkpoint"),
             exported.get("step"), len(probe.results), worst)
    return results, probe.latency_ms

