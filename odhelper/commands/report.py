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
    from odhelper.workflows.report import report

    log.info("Report written: %s", report(options))
    return 0
