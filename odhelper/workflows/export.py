"""`odhelper export` (and the export stage of `odhelper run`): the SavedModel, the
TFLite and ONNX artifacts asked for, then every artifact scored on the validation
split beside the SavedModel (export/artifacts.md + .csv). An artifact that detects
nothing or loses more than --max-ap-drop mAP@0.5 is renamed *.failed; the others
are kept."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from odhelper import log
from odhelper.errors import OdhelperError
from odhelper.metrics import artifacts, tables
from odhelper.options.artifacts import ArtifactOptions
from odhelper.rundir import FAILED_SUFFIX, RunDir

SCORE_THRESHOLD = 0.5  # of the detections / precision / recall columns, as `evaluate`


@dataclass
class ExportResult:
    export: Path
    rows: list[artifacts.ArtifactRow] = field(default_factory=list)
    failed: list[artifacts.ArtifactRow] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)

    def error(self) -> OdhelperError | None:
        """One line naming each failed artifact and why, or None."""
        if not self.failed:
            return None
        return OdhelperError("; ".join(f"{self.export / row.file}: {row.failure} (renamed "
                                       f"*{FAILED_SUFFIX}; the other artifacts are kept)"
                                       for row in self.failed))


def export_run(run_dir: RunDir, options: ArtifactOptions, batched: bool = False) -> ExportResult:
    """Export, then check every artifact when any besides the SavedModel was asked for."""
    from odhelper.engine import exporter

    exporter.export(run_dir, tflite=options.tflite_kinds, batched=batched, onnx=options.onnx,
                    artifacts=options)
    result = ExportResult(run_dir.export)
    if options.check and options.wants_artifacts:
        check_artifacts(run_dir, options.max_ap_drop, result)
    return result


def _artifacts(run_dir: RunDir) -> list[tuple[str, Path]]:
    exported = run_dir.exported
    found = [(artifacts.BASELINE, exported.saved_model)]
    found += [(f"TFLite {kind}", exported.tflite(kind)) for kind in ("fp32", "fp16", "int8")]
    found.append(("ONNX", exported.onnx))
    return [(name, path) for name, path in found if path.exists()]


def check_artifacts(run_dir: RunDir, max_drop: float,
                    result: ExportResult | None = None) -> ExportResult:
    """Score each artifact of RUN/export on the validation records; write the tables;
    rename the failed ones."""
    from odhelper.engine import artifact_check, detections, predictor
    from odhelper.metrics import per_class
    from odhelper.workflows.evaluate import (categories_of, load_run_configs, run_label_map,
                                             unique_ids)

    result = result or ExportResult(run_dir.export)
    configs = load_run_configs(run_dir)
    label_map = run_label_map(run_dir, configs)
    categories = categories_of(label_map)
    pictures = artifact_check.validation_pictures(
        detections.eval_record_files(configs, None), label_map)
    for name, path in _artifacts(run_dir):
        with log.stage(f"Check {name}", "check", file=path.name) as stage:
            scored = artifact_check.run_artifact(predictor.load_model(path), pictures)
            unique_ids(scored.results)
            metrics = per_class.od_api_metrics(scored.results, categories)
            row = artifacts.ArtifactRow(
                name, path.relative_to(run_dir.export).as_posix(),
                artifact_check.size_on_disk(path), scored.latency_ms,
                sum(len(r.detections) for r in scored.results),
                per_class.class_table(scored.results, categories, SCORE_THRESHOLD, metrics))
            stage.extra.update({"mAP@0.5": round(row.map50, 4), "ms/picture":
                                round(row.latency_ms, 1), "MB": round(row.size_bytes / 1e6, 2)})
        result.rows.append(row)
    result.failed = artifacts.judge(result.rows, max_drop)
    exported = run_dir.exported
    artifacts.save(result.rows, exported.artifacts_table, exported.artifacts_csv,
                   SCORE_THRESHOLD)
    result.outputs = [exported.artifacts_table, exported.artifacts_csv]
    for row in result.failed:
        path = run_dir.export / row.file
        path.rename(path.with_name(path.name + FAILED_SUFFIX))
        log.error("%s FAILED: %s", path, row.failure)
    headers, cells = artifacts.summary_cells(result.rows)
    log.info("Artifacts (%s):\n%s", exported.artifacts_table, tables.text(headers, cells))
    return result
