"""`odhelper report`: evaluate the run's current checkpoint when its tables are
missing or stale, then write RUN/report.html."""
from __future__ import annotations

from pathlib import Path

from odhelper import log
from odhelper.metrics import tables
from odhelper.options.inference import EvaluateOptions, ReportOptions
from odhelper.report import html, sources
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
        evaluate(EvaluateOptions(run_dir=run_dir.root, checkpoint=checkpoint,
                                 per_image_table=10))
    except Exception as exc:  # noqa: BLE001 - the report still shows everything else
        log.warning("Report: evaluation failed (%s); per-class sections left empty", exc)


def report(options: ReportOptions) -> Path:
    """Write the report of options.run_dir (the run folder opened for writing: the
    evaluation it may need writes eval/); return its path."""
    run_dir = RunDir(options.run_dir)
    if not run_dir.root.is_dir():
        from odhelper.errors import OdhelperError
        raise OdhelperError(f"{run_dir}: no such run directory")
    with run_dir.opened("report", stage=("Report", "report")) as opened:
        if options.evaluate:
            ensure_evaluated(run_dir)
        path = html.build_report(run_dir, options.output, options.samples)
        opened.stage.extra["path"] = str(path)
    return path


def report_after_run(run_dir: RunDir) -> Path | None:
    """The report `odhelper run` writes at its end; a failure is logged, it never
    fails a trained run."""
    try:
        return report(ReportOptions(run_dir=run_dir.root))
    except Exception as error:  # noqa: BLE001  (the stage line already names it)
        log.warning("Report not written: %s", error)
        return None
