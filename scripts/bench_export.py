#!/usr/bin/env python
"""SavedModel export with and without the Keras layer traces, on the same checkpoint.

Trains ssd_mobilenet_v2_cpu from scratch for a few steps on ../shared/datasets/raccoon
(no export), then exports its last checkpoint in this one process, alternating: as
odhelper does (tf.saved_model.save without tracing each Keras layer's call) and as
before (the Keras default, which traces them for reloading the model as Keras). Each
export builds its own model, after one untimed export that warms the process. Prints
the seconds of each, the ratio of the medians, and whether both SavedModels detect the
same on a validation picture.

Usage: scripts/bench_export.py [--repeats 2] [--image-size 320] [--keep DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_support import SHARED, odhelper, work_folder

RACCOON = SHARED / "raccoon"


def _export_seconds(run: Path, traces: bool, out: Path) -> float:
    import odhelper.od  # noqa: F401 - the compat fixes before TensorFlow loads

    from odhelper.engine import exporter
    from odhelper.od import api
    from odhelper.pipeline import config
    from odhelper.rundir import ExportDir, RunDir

    run_dir = RunDir(run)
    configs = config.load(run_dir.pipeline_config)
    proto = api().config_util.create_pipeline_proto_from_configs(configs)
    kept = exporter.without_keras_traces
    if traces:  # the earlier behaviour: Keras' own default
        exporter.without_keras_traces = contextlib.nullcontext
    try:
        started = time.perf_counter()
        exporter._export(proto, Path(run_dir.checkpoint("last")), "image_tensor",
                         ExportDir(out))
        return time.perf_counter() - started
    finally:
        exporter.without_keras_traces = kept


def _top_scores(saved_model: Path, picture: Path) -> list[float]:
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    model = tf.saved_model.load(str(saved_model))
    image = np.asarray(Image.open(picture).convert("RGB"))[None]
    scores = model.signatures["serving_default"](
        input_tensor=tf.constant(image))["detection_scores"][0].numpy()
    return [round(float(s), 5) for s in scores[:5]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--image-size", default="320")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    if not RACCOON.is_dir():
        print(f"skipped: {RACCOON} is absent")
        return 0
    with work_folder(args.keep, "odhelper-export-") as work:
        run = work / "run"
        odhelper("run", "-m", "ssd_mobilenet_v2_cpu", "--from-scratch", "-i", str(RACCOON),
                 "-r", str(run), "--steps", "2", "-b", "2", "--image-size", args.image_size,
                 "--no-export", "--no-report", "--eval-mode", "none", log=work / "run.log")
        seconds: dict[bool, list[float]] = {False: [], True: []}
        folders = {}
        _export_seconds(run, False, Path(tempfile.mkdtemp(prefix="warm-up-", dir=work)))
        for repeat in range(args.repeats):
            for traces in (False, True):
                out = Path(tempfile.mkdtemp(prefix=f"export-{traces}-{repeat}-", dir=work))
                seconds[traces].append(_export_seconds(run, traces, out))
                folders[traces] = out
        picture = next((RACCOON / "images").glob("*.jpg"))
        same = _top_scores(folders[False] / "saved_model", picture) == \
            _top_scores(folders[True] / "saved_model", picture)
        for traces, label in ((True, "with Keras layer traces (before)"),
                              (False, "without them (odhelper)")):
            print(f"{label:<34} " + " ".join(f"{s:6.1f}" for s in seconds[traces]) + " s")
        ratio = statistics.median(seconds[True]) / statistics.median(seconds[False])
        print(f"ratio before / now (medians): {ratio:.2f}x; same detections: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
