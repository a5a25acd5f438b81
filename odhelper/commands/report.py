"""odhelper report: one self-contained HTML page about a run."""
from __future__ import annotations

NAME = "report"
HELP = ("write RUN/report.html: class distribution, loss and mAP curves, per-class AP, "
        "sample detections, tables, stage timings, run options")


def options_class():
    from odhelper.options.inference import ReportOptions
    return ReportOptions


def run(options) -> int:
    from odhelper import log
    from odhelper.rundir import RunDir
    from odhelper.workflows.report import report

    run_dir = RunDir(options.run_dir)
    if not run_dir.root.is_dir():
        from odhelper.errors import OdhelperError
        raise OdhelperError(f"{run_dir}: no such run directory")
    with log.to_dir(run_dir.root), log.stage("Report", "report") as stage:
        stage.extra["report"] = str(report(options))
    return 0
