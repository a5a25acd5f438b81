#!/usr/bin/env python
"""In-run evaluation against the exported SavedModel, on the same validation pictures.

Trains a model from scratch for a few steps on ../shared/datasets/raccoon (pictures of
many sizes, so a function traced per picture shape would show), with two in-run
evaluations, exports it, then scores the validation pictures through the SavedModel
(the per-picture loop of `export`'s artifact check). Prints the seconds of each in-run
evaluation (the first includes tracing) and of the SavedModel (loading included, and the
loop alone), and their ratio.

Usage: scripts/bench_eval.py [--model faster_rcnn_resnet50] [--image-size 128] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench_support import SHARED, odhelper, work_folder

RACCOON = SHARED / "raccoon"


def _evaluations(run: Path) -> list[float]:
    seconds = []
    for line in (run / "timings.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("stage") == "Evaluate model" and record.get("status") == "success":
            seconds.append(float(record["seconds"]))
    return seconds


def _saved_model_seconds(run: Path) -> tuple[float, float, int]:
    """(load + first call + loop, loop alone, pictures) through the SavedModel."""
    import odhelper.od  # noqa: F401 - the compat fixes before TensorFlow loads

    from odhelper.engine import artifact_check, predictor, records
    from odhelper.rundir import RunDir
    from odhelper.workflows.evaluate import load_run_configs, run_label_map

    run_dir = RunDir(run)
    configs = load_run_configs(run_dir)
    pictures = artifact_check.validation_pictures(
        records.eval_record_files(configs, None), run_label_map(run_dir, configs))
    started = time.perf_counter()
    model = predictor.load_model(run_dir.root)
    scored = artifact_check.run_artifact(model, pictures)
    total = time.perf_counter() - started
    return total, scored.latency_ms * len(pictures) / 1000, len(pictures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="faster_rcnn_resnet50")
    parser.add_argument("--image-size", default="128")
    parser.add_argument("--steps", default="4")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    if not RACCOON.is_dir():
        print(f"skipped: {RACCOON} is absent")
        return 0
    with work_folder(args.keep, "odhelper-eval-") as work:
        run = work / "run"
        half = str(max(1, int(args.steps) // 2))
        odhelper("run", "-m", args.model, "--from-scratch", "-i", str(RACCOON), "-r", str(run),
                 "--steps", args.steps, "--eval-every", half, "-b", "2", "--image-size",
                 args.image_size, "--no-report", "--no-check", log=work / "run.log")
        first, *later = _evaluations(run)
        saved_total, saved_loop, pictures = _saved_model_seconds(run)
        again = later[0] if later else float("nan")
        print(f"{args.model} at {args.image_size} px, {pictures} validation pictures")
        print(f"in-run evaluation, first (traces):  {first:7.1f} s")
        print(f"in-run evaluation, second:          {again:7.1f} s")
        print(f"SavedModel, load + warm-up + loop:  {saved_total:7.1f} s")
        print(f"SavedModel, loop alone:             {saved_loop:7.1f} s")
        print(f"ratio in-run first / SavedModel with loading: {first / saved_total:.2f}x; "
              f"second / loop alone: {again / saved_loop:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
