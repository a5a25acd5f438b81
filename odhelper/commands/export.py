"""odhelper export: export a run's best (or last) checkpoint to RUN/export/."""
from __future__ import annotations

from pathlib import Path

NAME = "export"
HELP = "export RUN's best (or last) checkpoint as a SavedModel (+ TFLite for SSD)"


def add_arguments(parser) -> None:
    parser.add_argument("--run-dir", "-o", type=Path, required=True, help="run directory")
    parser.add_argument("--tflite", action="store_true", help="also write model.tflite (SSD)")
    parser.add_argument("--batched", action="store_true",
                        help="float_image_tensor signature: takes batches of float32 pictures "
                             "of one size (odhelper predict sends batches: faster); default "
                             "image_tensor, one uint8 picture per call")


def main(args) -> int:
    from odhelper import log
    from odhelper.engine.exporter import export

    log.setup(args.run_dir, verbose=args.verbose)
    export(args.run_dir, tflite=args.tflite, batched=args.batched)
    return 0
