"""odhelper export: export a run's best (or last) checkpoint to RUN/export/."""
from __future__ import annotations

from pathlib import Path

NAME = "export"
HELP = "export RUN's best (or last) checkpoint as a SavedModel (+ TFLite for SSD)"


def add_arguments(parser) -> None:
    parser.add_argument("--run-dir", "-o", type=Path, required=True, help="run directory")
    parser.add_argument("--tflite", action="store_true", help="also write model.tflite (SSD)")


def main(args) -> int:
    from odhelper import log
    from odhelper.engine.exporter import export

    log.setup(args.run_dir, verbose=args.verbose)
    export(args.run_dir, tflite=args.tflite)
    return 0
