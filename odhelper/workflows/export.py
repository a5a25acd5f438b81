"""`odhelper export` (and the export stage of `odhelper run`): the run's best checkpoint
as a SavedModel with its operating points, plus the TFLite and ONNX artifacts asked
for, every artifact scored on the validation split beside the SavedModel
(export/artifacts.md + .csv). An artifact that detects nothing or loses more than
--max-ap-drop mAP@0.5 is renamed *.failed; the others are kept.

Export owns export/ without destroying what is in it. export.json records the
exported checkpoint (name, step, identity), the signature, and the checkpoint each
artifact and each check was made from, so that:
- an unchanged checkpoint keeps its SavedModel, its operating points and every
  artifact; a TFLite kind or ONNX asked for later is added (from the kept TFLite
  graph) without exporting anything again;
- a changed checkpoint is exported, its operating points recomputed with the
  recorded rule, and the artifacts already there remade from it;
- the signature stays what it was unless another one is asked for.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files, log
from odhelper.errors import OdhelperError
from odhelper.metrics import artifacts, tables
from odhelper.options.artifacts import ArtifactOptions
from odhelper.checkpoints import checkpoint_identity
from odhelper.constants import BATCHED_SIGNATURE
from odhelper.rundir import FAILED_SUFFIX, RunDir

SCORE_THRESHOLD = 0.5  # of the detections / precision / recall columns, as `evaluate`
SIGNATURES = {False: "image_tensor", True: "float_image_tensor"}
SAVED_SIGNATURES = ["serving_default", BATCHED_SIGNATURE]  # in every SavedModel exported


@dataclass
class ExportResult:
    export: Path
    checkpoint: str = ""
    step: int = 0
    rows: list[artifacts.ArtifactRow] = field(default_factory=list)
    failed: list[artifacts.ArtifactRow] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    made: list[str] = field(default_factory=list)  # what this call exported or converted
    kept: list[str] = field(default_factory=list)  # what was current and left as it was
    evaluation: object = None  # workflows.evaluate.Evaluation, when this call scored the export

    def error(self) -> OdhelperError | None:
        """One line naming each failed artifact and why, or None."""
        if not self.failed:
            return None
        return OdhelperError("; ".join(f"{self.export / row.file}: {row.failure} (renamed "
                                       f"*{FAILED_SUFFIX}; the other artifacts are kept)"
                                       for row in self.failed))


def export_run(run_dir: RunDir, options: ArtifactOptions) -> ExportResult:
    """Export (or keep) the best checkpoint's SavedModel and the artifacts asked for;
    check the ones not checked yet."""
    run_dir = run_dir.require()
    with run_dir.opened("export", options, ("Export", "export"),
                        options_file=run_dir.export_options):
        return _export(run_dir, options)


def _signature(recorded: dict, batched: bool | None) -> str:
    if batched is None:
        return recorded.get("signature") or SIGNATURES[False]
    return SIGNATURES[bool(batched)]


def _export(run_dir: RunDir, options: ArtifactOptions) -> ExportResult:
    from odhelper.engine.exporter import export_saved_model
    from odhelper.engine.restore import checkpoint_step
    from odhelper.pipeline import config
    from odhelper.workflows.evaluate import evaluate_exported

    out = run_dir.exported
    configs = config.load(run_dir.pipeline_config)
    checkpoint = Path(run_dir.checkpoint("best"))
    identity = checkpoint_identity(checkpoint)
    record = out.recorded()
    signature = _signature(record, options.batched)
    result = ExportResult(out.root, checkpoint.name, checkpoint_step(str(checkpoint)))
    same = record.get("identity") == identity and out.saved_model.is_dir()
    earlier = _artifact_kinds(out) if not same else ([], False)
    both = record.get("signatures") == SAVED_SIGNATURES
    if same and record.get("signature") == signature and both:
        log.info("Export of %s (step %d, %s) is current: SavedModel kept", checkpoint.name,
                 result.step, signature)
        result.kept.append("saved_model")
    else:
        if same and not both:
            log.info("The SavedModel has no %s signature (exported by an earlier version): "
                     "%s exported again", BATCHED_SIGNATURE, checkpoint.name)
        elif same:
            log.info("Signature %s -> %s, as asked: %s exported again",
                     record.get("signature"), signature, checkpoint.name)
        elif record:
            log.info("Best checkpoint is now %s (step %d); the export held %s: exporting it",
                     checkpoint.name, result.step, record.get("checkpoint"))
        out.record.unlink(missing_ok=True)  # no record: a killed export is not "current"
        if not same:
            _remove_made_from_other(out)
            record = {}
        export_saved_model(run_dir, configs, checkpoint, signature)
        record.update(checkpoint=checkpoint.name, step=result.step, identity=identity,
                      signature=signature, signatures=SAVED_SIGNATURES)
        record.setdefault("artifacts", {})
        record.setdefault("checks", {})
        record["checks"].pop(out.saved_model.name, None)
        result.made.append("saved_model")
    files.write_json(out.record, record)
    kinds = list(dict.fromkeys(options.tflite_kinds + earlier[0]))
    _tflite(run_dir, configs, checkpoint, kinds, options, record, result)
    if options.onnx or earlier[1]:
        _onnx(run_dir, record, result)
    files.write_json(out.record, record)
    if not _thresholds_current(run_dir, identity):
        result.evaluation = evaluate_exported(run_dir, str(checkpoint))
    else:
        log.info("Operating points of %s kept: %s", checkpoint.name, run_dir.thresholds)
    if options.check and len(_artifacts(run_dir)) > 1:
        check_artifacts(run_dir, options.max_ap_drop, record, result)
        files.write_json(out.record, record)
    return result


def _artifact_kinds(out) -> tuple[list[str], bool]:
    """(TFLite kinds, ONNX) present in an export: what a new checkpoint remakes."""
    kinds = [kind for kind in ("fp32", "fp16", "int8") if out.tflite(kind).is_file()]
    return kinds, out.onnx.is_file()


def _remove_made_from_other(out) -> None:
    """Artifacts, checks and operating points of the checkpoint exported before."""
    for path in [out.tflite(k) for k in ("fp32", "fp16", "int8")] + [
            out.onnx, out.tflite_info, out.artifacts_table, out.artifacts_csv, out.thresholds]:
        for candidate in (path, path.with_name(path.name + FAILED_SUFFIX)):
            candidate.unlink(missing_ok=True)
    shutil.rmtree(out.tflite_graph, ignore_errors=True)


def _tflite(run_dir: RunDir, configs: dict, checkpoint: Path, kinds: list[str],
            options: ArtifactOptions, record: dict, result: ExportResult) -> None:
    from odhelper.engine import tflite_export
    from odhelper.od import api

    if not kinds:
        return
    reason = tflite_export.tflite_unsupported(configs["model"])
    if reason:
        log.warning("--tflite: %s model: %s; skipped (the SavedModel is exported)",
                    configs["model"].WhichOneof("model"), reason)
        return
    out, identity = run_dir.exported, record["identity"]
    made = record.setdefault("artifacts", {})
    if made.get("tflite_graph") != identity or not out.tflite_graph.is_dir():
        proto = api().config_util.create_pipeline_proto_from_configs(configs)
        with log.stage("TFLite graph", "export"):
            tflite_export.write_graph(configs, proto, checkpoint.parent, out)
        made["tflite_graph"] = identity
    for kind in kinds:
        name = out.tflite(kind).name
        if made.get(name) == identity and out.tflite(kind).is_file():
            result.kept.append(name)
            continue
        tflite_export.write_kind(configs, out, kind, options.calibration_images,
                                 options.calibration_seed, options.int8_input)
        made[name] = identity
        record.setdefault("checks", {}).pop(name, None)
        result.made.append(name)


def _onnx(run_dir: RunDir, record: dict, result: ExportResult) -> None:
    from odhelper.engine.onnx_export import export_onnx

    out, identity = run_dir.exported, record["identity"]
    made = record.setdefault("artifacts", {})
    made_for = (identity, record.get("signature"))
    if made.get(out.onnx.name) == list(made_for) and out.onnx.is_file():
        result.kept.append(out.onnx.name)
        return
    export_onnx(out.saved_model, out.onnx)
    made[out.onnx.name] = list(made_for)
    record.setdefault("checks", {}).pop(out.onnx.name, None)
    result.made.append(out.onnx.name)


def _thresholds_current(run_dir: RunDir, identity: str) -> bool:
    import json

    try:
        found = json.loads(run_dir.thresholds.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return found.get("checkpoint_identity") == identity


def _artifacts(run_dir: RunDir) -> list[tuple[str, Path]]:
    exported = run_dir.exported
    found = [(artifacts.BASELINE, exported.saved_model)]
    found += [(f"TFLite {kind}", exported.tflite(kind)) for kind in ("fp32", "fp16", "int8")]
    found.append(("ONNX", exported.onnx))
    return [(name, path) for name, path in found if path.exists()]


def check_artifacts(run_dir: RunDir, max_drop: float, record: dict,
                    result: ExportResult) -> ExportResult:
    """Score each artifact of RUN/export not scored yet (the SavedModel from the run's
    scoring of its checkpoint when there is one); write the tables; rename the failed."""
    from odhelper.workflows import artifact_scoring

    exported = run_dir.exported
    checks = record.setdefault("checks", {})
    result.rows = []
    for name, path in _artifacts(run_dir):  # the SavedModel first, then a fixed order
        key = path.relative_to(exported.root).as_posix()
        if key not in checks:
            checks[key] = artifact_scoring.score(run_dir, name, path, SCORE_THRESHOLD)
        result.rows.append(artifacts.ArtifactRow.from_dict(checks[key]))
    for gone in set(checks) - {row.file for row in result.rows}:  # removed by hand
        checks.pop(gone)
    result.failed = artifacts.judge(result.rows, max_drop)
    artifacts.save(result.rows, exported.artifacts_table, exported.artifacts_csv,
                   SCORE_THRESHOLD)
    result.outputs = [exported.artifacts_table, exported.artifacts_csv]
    for row in result.failed:
        path = exported.root / row.file
        path.rename(path.with_name(path.name + FAILED_SUFFIX))
        checks.pop(row.file, None)
        record.get("artifacts", {}).pop(row.file, None)
        log.error("%s FAILED: %s", path, row.failure)
    headers, cells = artifacts.summary_cells(result.rows)
    log.info("Artifacts (%s):\n%s", exported.artifacts_table, tables.text(headers, cells))
    return result
