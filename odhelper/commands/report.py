"""odhelper report: one self-contained HTML page about a run."""
from __future__ import annotations

NAME = "report"
HELP = ("write RUN/report.html: class distribution, loss and mAP curves, per-class AP, "
        "sample detections, tables, stage timings, run options")


def add_arguments(parser) -> None:
    parser.add_argument("--run-dir", "-r", required=True, help="the run directory")
    parser.add_argument("--output", "-o", default=None,
                        help="where to write the page (default: RUN/report.html)")
    parser.add_argument("--no-evaluate", action="store_true",
                        help="do not evaluate the best checkpoint when eval/per_class.csv "
                             "is missing")
    parser.add_argument("--samples", type=int, default=8,
                        help="validation pictures in the sample-detection grid (default: 8)")


def main(args) -> int:
    from pathlib import Path

    from odhelper import log
    from odhelper.report import build_report

    run_dir = Path(args.run_dir)
    log.setup(run_dir if run_dir.is_dir() else None, verbose=args.verbose)
    with log.stage("Report", "report") as stage:
        path = build_report(run_dir, args.output, not args.no_evaluate, args.samples)
        stage.extra["report"] = str(path)
    return 0
