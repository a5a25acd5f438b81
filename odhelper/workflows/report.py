"""`odhelper report`: evaluate the run's current checkpoint when its tables are
missing or stale, draw sample detections of the exported model and the augmentation
preview, then write RUN/report.html (report/html.py renders)."""
from __future__ import annotations

from pathlib import Path

from odhelper import log, signals
from odhelper.errors import OdhelperError
from odhelper.metrics import tables
from odhelper.options.inference import EvaluateOptions, ReportOptions
from odhelper.report import html, sources
from odhelper.report.samples import Samples
from odhelper.rundir import RunDir


def _evaluated_current(run_dir: RunDir, checkpoint: str) -> bool:
    """Whether eval/ holds the tables of `checkpoint`."""
    recorded = sources.eval_metrics(run_dir)
    if not (run_dir.eval_dir / tables.CLASS_CSV).is_file() or recorded is None:
        return False
    return Path(str(recorded.get("checkpoint"))).name == Path(checkpoint).name


def ensure_evaluated(run_dir: RunDir) -> None:
    """The tables of the checkpoint the report is about (the exported one, else best)."""
    from odhelper.workflows.evaluate import evaluate, exported_checkpoint

    try:
        checkpoint = run_dir.checkpoint(exported_checkpoint(run_dir))
    except Exception:  # noqa: BLE001 - no checkpoint at all: keep what eval/ holds
        return
    if _evaluated_current(run_dir, checkpoint):
        return
    log.info("Report: %s has no per-class table of %s; evaluating", run_dir,
             Path(checkpoint).name)
    try:
        evaluate(EvaluateOptions(run_dir=run_dir.root, checkpoint=checkpoint, tile=0,
                                 per_image_table=10))
    except Exception as exc:  # noqa: BLE001 - the report still shows everything else
        signals.raise_stop_behind(exc)
        log.warning("Report: evaluation failed (%s); per-class sections left empty", exc)


def sample_detections(run_dir: RunDir, count: int) -> Samples | None:
    """The first `count` evaluated pictures, their ground truth and the exported
    model's detections kept as `odhelper predict` keeps them; None without an
    export or evaluation records."""
    from odhelper import thresholds
    from odhelper.engine import predictor, records

    recorded = sources.eval_metrics(run_dir) or {}
    if not count or not recorded.get("records"):
        return None
    try:
        model = predictor.load_model(run_dir.root)
    except OdhelperError as exc:
        log.warning("Report: no sample detections (%s)", exc)
        return None
    label_map = predictor.find_label_map(model.path)
    if label_map is None:
        log.warning("Report: no sample detections (%s: no label map beside it)", model.path)
        return None
    import tensorflow as tf

    rule = thresholds.decide(model.folder)
    try:
        pictures = [(image, truth.with_detections(
            rule.apply(predictor.detect_picture(model, image), model.class_names)))
            for _, image, truth in records.read(recorded["records"], label_map, range(count))]
    except tf.errors.OpError as exc:  # records moved or damaged since the evaluation
        unread = [f for f in recorded["records"] if not Path(f).is_file()]
        log.warning("Report: no sample detections (%s)", f"{', '.join(unread)}: not found"
                    if unread else f"records unreadable: {type(exc).__name__}")
        return None
    return Samples(pictures, model.class_names, rule.describe())


def augmentation(run_dir: RunDir, count: int) -> list[str] | None:
    """The augmentation steps of the run's pipeline.config (None without one); writes
    RUN/augment_preview.png with `count` samples when it is missing."""
    from odhelper.pipeline import augment, config
    from odhelper.workflows.augment_preview import write_grid

    if not run_dir.pipeline_config.is_file():
        return None
    configs = config.load(run_dir.pipeline_config)
    try:
        if not run_dir.augment_preview.is_file() and count:
            write_grid(configs, run_dir.augment_preview, count)
    except Exception as exc:  # noqa: BLE001 - the report still shows the rest
        signals.raise_stop_behind(exc)
        log.warning("Report: no augmentation preview (%s: %s)", type(exc).__name__, exc)
    return augment.describe(configs["train_config"])


def report(options: ReportOptions) -> Path:
    """Write the report of options.run_dir (the run folder opened for writing: the
    evaluation it may need writes eval/); return its path."""
    run_dir = RunDir(options.run_dir)
    if not run_dir.root.is_dir():
        raise OdhelperError(f"{run_dir}: no such run directory")
    with run_dir.opened("report", stage=("Report", "report")) as opened:
        if options.evaluate:
            ensure_evaluated(run_dir)
        path = html.build_report(run_dir, options.output,
                                 sample_detections(run_dir, options.samples),
                                 augmentation(run_dir, options.samples))
        opened.stage.extra["path"] = str(path)
    return path


def report_after_run(run_dir: RunDir) -> Path | None:
    """The report `odhelper run` writes at its end; a failure is logged, it never
    fails a trained run."""
    try:
        return report(ReportOptions(run_dir=run_dir.root))
    except Exception as error:  # noqa: BLE001  (the stage line already names it)
        signals.raise_stop_behind(error)
        log.warning("Report not written: %s", error)
        return None
