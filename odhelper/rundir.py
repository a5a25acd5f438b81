"""The run directory: the contract between every stage of `odhelper run`.

    RUN/
      pipeline.config      the filled config the run trains with (a resume keeps it)
      label_map.pbtxt      copy of the dataset's label map
      run.yaml             the options the run was started with
      trained_on.json      the dataset's identity (label map, held-out pictures)
      checkpoints/         ckpt-N of training (tf.train.CheckpointManager)
      best/                the best checkpoint so far, best.json says why
      train/               TensorBoard events of training
      eval/                TensorBoard events of evaluation, history.jsonl (every
                           evaluation), detections/ (per-picture results of the best
                           and last evaluations), the tables of `odhelper evaluate`
      export/              export.json (which checkpoint, signature, artifacts),
                           saved_model/, checkpoint/, pipeline.config, label map,
                           thresholds.json, model[_fp16|_int8].tflite + tflite.json +
                           tflite_graph/, model.onnx, artifacts.md + .csv
      report.html  odhelper.log  timings.jsonl  train_done.json
      .odhelper.lock       held while a command writes here (odhelper/lock.py)

This module owns that layout: other modules ask a `RunDir` for a place and
never spell a path. It also owns which checkpoint "best", "last" or "ckpt-N"
means (`RunDir.checkpoint`). The layouts of the active-learning folder and
the demo's folder live here too (`ActiveDir`, `DemoDir`).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from odhelper import files, log
from odhelper import lock as folder_lock
from odhelper.checkpoints import checkpoint_identity, checkpoint_prefix, latest_in, step_of
from odhelper.datasetdir import DatasetIdentity
from odhelper.evalhistory import EvalHistory
from odhelper.errors import OdhelperError

LABEL_MAP = "label_map.pbtxt"
PIPELINE_CONFIG = "pipeline.config"
SAVED_MODEL = "saved_model"
TFLITE_MODEL = "model.tflite"  # fp32; the other variants are model_<kind>.tflite
TFLITE_INFO = "tflite.json"  # input size, normalisation and output order of the .tflite files
ONNX_MODEL = "model.onnx"
FAILED_SUFFIX = ".failed"  # an artifact that failed its check is renamed, not shipped
THRESHOLDS = "thresholds.json"  # beside the SavedModel: per-class score thresholds


class _OneWriter:
    """`with folder.opened("run", options):` the writer's context (odhelper/workspace.py):
    lock, log, options YAML, top stage; `locked` only locks."""

    root: Path
    options_file: Path

    def locked(self, command: str):
        return folder_lock.held(self.root, command)

    def has_work(self) -> bool:
        return False

    def opened(self, command: str, options: Any = None, stage: tuple[str, str] | None = None,
               options_file: Path | None = None, check=None, **fields: Any):
        """Open the folder for writing (odhelper/workspace.py); its log is its own."""
        from odhelper import workspace

        return workspace.opened(self.root, command, options, options_file or self.options_file,
                                stage=stage, check=check, has_work=self.has_work,
                                stage_fields=fields, log_here=True)


class RunDir(_OneWriter):
    """Places of one run directory (nothing is created until written)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r})"

    def __str__(self) -> str:
        return str(self.root)

    pipeline_config = property(lambda self: self.root / PIPELINE_CONFIG)
    label_map = property(lambda self: self.root / LABEL_MAP)
    options_file = property(lambda self: self.root / "run.yaml")
    identity_file = property(lambda self: self.root / "trained_on.json")
    audit = property(lambda self: AuditDir(self.root / "audit"))  # odhelper audit -r's default
    checkpoints = property(lambda self: self.root / "checkpoints")
    best = property(lambda self: self.root / "best")
    best_record = property(lambda self: self.best / "best.json")
    train_events = property(lambda self: self.root / "train")
    eval_dir = property(lambda self: self.root / "eval")
    eval_metrics = property(lambda self: self.eval_dir / "metrics.json")
    history = property(lambda self: EvalHistory(self.eval_dir / "history.jsonl"))
    evaluate_options = property(lambda self: self.eval_dir / "evaluate.yaml")
    stale_record = property(lambda self: self.eval_dir / "stale.json")  # patience count
    export = property(lambda self: self.root / "export")
    saved_model = property(lambda self: self.export / SAVED_MODEL)
    tflite = property(lambda self: self.export / TFLITE_MODEL)
    export_options = property(lambda self: self.export / "export.yaml")
    thresholds = property(lambda self: self.export / THRESHOLDS)  # per-class operating points
    exported = property(lambda self: ExportDir(self.export))  # each artifact's place
    report = property(lambda self: self.root / "report.html")
    done_marker = property(lambda self: self.root / "train_done.json")
    sidecar_stop = property(lambda self: self.root / "sidecar.stop")
    log_file = property(lambda self: self.root / log.LOG_FILE)
    timings = property(lambda self: self.root / log.TIMINGS_FILE)
    default_dataset = property(lambda self: self.root / "dataset")
    augment_preview = property(lambda self: self.root / "augment_preview.png")

    def exports(self, checkpoint: str | Path) -> bool:
        """Whether `checkpoint` is the one in export/: recorded in export.json, or, for an
        export made before export.json existed, the best checkpoint (what export took)."""
        exported = self.exported
        if exported.recorded():
            return exported.holds(checkpoint)
        if not self.saved_model.is_dir():
            return False
        try:
            return Path(checkpoint) == Path(self.checkpoint("best"))
        except OdhelperError:
            return False

    def has_work(self) -> bool:
        """Whether training (or anything after it) ever started here: a run that fails
        before that removes a folder it created."""
        return any(p.exists() for p in (self.checkpoints, self.train_events, self.eval_dir,
                                        self.export))

    # -- what the run was trained on -------------------------------------------------
    def trained_on(self) -> DatasetIdentity | None:
        """The recorded identity of the run's dataset, None for a run that has none yet
        (new, or made by an earlier version)."""
        try:
            data = json.loads(self.identity_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return DatasetIdentity.from_dict(data.get("dataset", {}))

    def record_trained_on(self, identity: DatasetIdentity, folder: Path, model: str,
                          adopted: bool = False) -> None:
        files.write_json(self.identity_file, {
            "dataset": identity.to_dict(), "folder": str(Path(folder).resolve()),
            "model": model, "adopted": adopted,
            "recorded": dt.datetime.now().isoformat(timespec="seconds")})

    def dataset_folder(self) -> Path | None:
        """The dataset folder the run last trained on, as recorded."""
        try:
            return Path(json.loads(self.identity_file.read_text(encoding="utf-8"))["folder"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def evaluation(self, split: str = "validate", tiled: bool = False) -> "EvalDir":
        """Where `odhelper evaluate` writes: eval/ for the validation split, eval/test/
        for the test split (scored apart, never used to pick a checkpoint); `tiled`
        (whole pictures by tiles): eval/tiled/, eval/test/tiled/."""
        root = self.eval_dir if split == "validate" else self.eval_dir / split
        return EvalDir(root / "tiled" if tiled else root)

    # -- training state, read without TensorFlow ------------------------------------
    def latest_step(self) -> int:
        """N of the newest ckpt-N in checkpoints/, 0 when there is none."""
        latest = latest_in(self.checkpoints)
        return step_of(latest) if latest else 0

    def finished_steps(self) -> int | None:
        """The --steps a finished training reached (train_done.json), else None."""
        try:
            return int(json.loads(self.done_marker.read_text())["steps"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def fine_tune_checkpoint(self) -> str | None:
        """The pre-trained checkpoint the run started from (its pipeline.config)."""
        if not self.pipeline_config.is_file():
            return None
        found = re.search(r'fine_tune_checkpoint: "([^"]+)"', self.pipeline_config.read_text())
        return found.group(1) if found else None

    # -- which checkpoint -------------------------------------------------------------
    def checkpoint(self, which: str = "best") -> str:
        """The checkpoint prefix that `which` names:

        best    best/ (the best evaluation so far); when no evaluation kept one yet,
                the newest checkpoint of checkpoints/ (the one fallback rule)
        last    the newest checkpoint of checkpoints/
        ckpt-N  that checkpoint, in checkpoints/ or best/
        a path  a checkpoint prefix (PATH.index exists) or a folder holding one
        """
        if which == "best":
            found = latest_in(self.best)
            if found:
                return found
            log.warning("%s: no best checkpoint yet; using the last one", self.best)
            which = "last"
        if which == "last":
            found = latest_in(self.checkpoints)
            if found is None:
                raise OdhelperError(f"{self.checkpoints}: no checkpoint yet (train first with "
                                    "`odhelper run`)")
            return found
        for candidate in (self.checkpoints / which, self.best / which):
            if Path(f"{candidate}.index").is_file():
                return str(candidate)
        found = checkpoint_prefix(which)
        if found:
            return found
        raise OdhelperError(f"{self.root}: no checkpoint {which!r} (use best, last, ckpt-N of "
                            f"{self.checkpoints} or a checkpoint path)")

    def has_best(self) -> bool:
        return latest_in(self.best) is not None

    def require(self) -> "RunDir":
        """This run directory, or a clear error when it is not one."""
        if not self.root.is_dir():
            raise OdhelperError(f"{self.root}: no such run directory")
        if not self.pipeline_config.is_file():
            raise OdhelperError(f"{self.pipeline_config}: pipeline config not found; is "
                                f"{self.root} a run directory (written by `odhelper run`)?")
        return self


def find_saved_model(model: str | Path) -> Path:
    """A run dir, its export dir or a saved_model dir -> the saved_model dir."""
    model = Path(model)
    for candidate in (model, model / SAVED_MODEL, RunDir(model).saved_model):
        if (candidate / "saved_model.pb").is_file():
            return candidate
    raise OdhelperError(f"{model}: no exported SavedModel here (looked for saved_model.pb in "
                        f"it, in {SAVED_MODEL}/ and in export/{SAVED_MODEL}/); run "
                        "`odhelper export` first")


class EvalDir:
    """One evaluation's folder: tables, error analysis, curves and galleries."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    metrics = property(lambda self: self.root / "metrics.json")
    confusion_csv = property(lambda self: self.root / "confusion_matrix.csv")
    confusion_png = property(lambda self: self.root / "confusion_matrix.png")
    errors_csv = property(lambda self: self.root / "errors.csv")
    curves_csv = property(lambda self: self.root / "threshold_curves.csv")
    curves_png = property(lambda self: self.root / "threshold_curves.png")
    pr_png = property(lambda self: self.root / "pr_curves.png")
    operating_csv = property(lambda self: self.root / "operating_points.csv")
    galleries = property(lambda self: self.root / "galleries")
    thresholds = property(lambda self: self.root / THRESHOLDS)  # this checkpoint's points
    detections_dir = property(lambda self: self.root / "detections")

    def detections(self, step: int) -> Path:
        """Per-picture ground truth and detections of the evaluation at `step`."""
        return self.detections_dir / f"step-{int(step)}.npz"

    def gallery(self, class_name: str, kind: str) -> Path:
        """galleries/<class>_<kind>.png, kind "false_positives" or "misses"."""
        safe = re.sub(r"[^\w.-]+", "_", class_name)
        return self.galleries / f"{safe}_{kind}.png"


class ExportDir:
    """RUN/export/ (or the temporary folder an export is written into first)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    saved_model = property(lambda self: self.root / SAVED_MODEL)
    checkpoint_dir = property(lambda self: self.root / "checkpoint")  # what was exported
    label_map = property(lambda self: self.root / LABEL_MAP)
    pipeline_config = property(lambda self: self.root / PIPELINE_CONFIG)
    thresholds = property(lambda self: self.root / THRESHOLDS)
    tflite_fp16 = property(lambda self: self.tflite("fp16"))
    tflite_int8 = property(lambda self: self.tflite("int8"))
    tflite_info = property(lambda self: self.root / TFLITE_INFO)
    tflite_graph = property(lambda self: self.root / "tflite_graph")  # kept: more kinds later
    onnx = property(lambda self: self.root / ONNX_MODEL)
    record = property(lambda self: self.root / "export.json")  # checkpoint, signature, artifacts
    artifacts_table = property(lambda self: self.root / "artifacts.md")
    artifacts_csv = property(lambda self: self.root / "artifacts.csv")

    def tflite(self, kind: str = "fp32") -> Path:
        """model.tflite (fp32), model_fp16.tflite, model_int8.tflite."""
        return self.root / (TFLITE_MODEL if kind == "fp32" else f"model_{kind}.tflite")

    def recorded(self) -> dict:
        """export.json: the exported checkpoint (name, step, identity), the signature,
        each artifact's source and check; {} when there is no complete export."""
        try:
            found = json.loads(self.record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}

    def holds(self, checkpoint: str | Path) -> bool:
        """Whether `checkpoint` is the one exported here (its identity is recorded, or
        it is the export's own copy)."""
        checkpoint = Path(checkpoint)
        if checkpoint.parent.resolve() == self.checkpoint_dir.resolve():
            return bool(self.recorded())
        identity = self.recorded().get("identity")
        return bool(identity) and Path(f"{checkpoint}.index").is_file() and \
            checkpoint_identity(checkpoint) == identity

    def source_checkpoint(self, run: "RunDir") -> str | None:
        """The run's checkpoint this export was made from (best/ or checkpoints/), else
        the export's own copy; None without an export."""
        recorded = self.recorded()
        if not recorded:
            return None
        for folder in (run.best, run.checkpoints):
            candidate = folder / str(recorded.get("checkpoint"))
            if Path(f"{candidate}.index").is_file() and \
                    checkpoint_identity(candidate) == recorded.get("identity"):
                return str(candidate)
        return checkpoint_prefix(self.checkpoint_dir)


class ActiveDir(_OneWriter):
    """`odhelper active-learn`'s folder: rounds, datasets, adopted pictures, the run.

    RUN/active.json, inputs/boxed (link) + inputs/adopted/<class>/, dataset-N/,
    review/<class>/, train/ (a RunDir)
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    state_file = property(lambda self: self.root / "active.json")
    options_file = property(lambda self: self.root / "active-learn.yaml")
    inputs = property(lambda self: self.root / "inputs")
    boxed = property(lambda self: self.inputs / "boxed")
    adopted = property(lambda self: self.inputs / "adopted")
    review = property(lambda self: self.root / "review")
    training = property(lambda self: RunDir(self.root / "train"))

    def has_work(self) -> bool:
        return self.state_file.exists()

    def dataset(self, round_number: int) -> Path:
        return self.root / f"dataset-{round_number}"

    def datasets(self) -> list[Path]:
        return sorted(self.root.glob("dataset-*"))


class AuditDir(_OneWriter):
    """`odhelper audit`'s folder (RUN/audit/ by default with --run-dir)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    options_file = property(lambda self: self.root / "audit.yaml")
    issues_csv = property(lambda self: self.root / "label_issues.csv")
    page = property(lambda self: self.root / "audit.html")
    health = property(lambda self: self.root / "health.json")
    drawn = property(lambda self: self.root / "issues")
    review = property(lambda self: self.root / "review")

    def has_work(self) -> bool:  # trained folds are kept when a later step fails
        return (self.root / "folds").is_dir()

    def fold(self, number: int) -> tuple[Path, "RunDir"]:
        """Fold `number`'s dataset folder and run."""
        place = self.root / "folds" / f"fold-{number}"
        return place / "dataset", RunDir(place / "run")


class DemoDir(_OneWriter):
    """`odhelper demo`'s folder: synthetic/ pictures, dataset/, run/, predictions/."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    options_file = property(lambda self: self.root / "demo.yaml")
    result_file = property(lambda self: self.root / "demo.json")
    synthetic = property(lambda self: self.root / "synthetic")
    dataset = property(lambda self: self.root / "dataset")
    run = property(lambda self: RunDir(self.root / "run"))
    predictions = property(lambda self: self.root / "predictions")

    def has_work(self) -> bool:
        return self.synthetic.exists()
