#!/usr/bin/env python
"""The training input with and without tf.data's autotuning, on a run's own records.

Builds the input of RUN/pipeline.config as `odhelper run` does (the OD API's train_input,
repeated, distributed), then alternates: tf.data's default (autotuning on, its tuning
thread running) and odhelper's choice (autotuning off). Each pass reads --batches
batches as fast as it can, then drops its iterator; prints the batches per second, the
seconds the iterator took to go, and the ratio of the medians.

The wait that made odhelper turn autotuning off came after minutes of training, when the
iterator was dropped; a short pass here rarely shows it. What this script shows is the
other half: that the input is not slower without it.

Usage: scripts/bench_input.py RUN [--batches 1500] [--repeats 2]
(RUN: any run folder, e.g. runs/demo/run after `odhelper demo`.)
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path


def one_pass(run: Path, autotune: bool, batches: int) -> tuple[float, float]:
    """(batches per second, seconds to drop the iterator)."""
    import tensorflow as tf

    from odhelper.engine.builder import train_dataset
    from odhelper.od import api
    from odhelper.pipeline import config

    configs = config.load(run / "pipeline.config")
    model = api().model_builder.build(configs["model"], is_training=True, add_summaries=False)
    iterator = iter(train_dataset(configs, model, tf.distribute.get_strategy(), autotune))
    next(iterator)  # the first batch fills the buffers: not timed
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    speed = batches / (time.perf_counter() - started)
    started = time.perf_counter()
    del iterator
    return speed, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--batches", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    import odhelper.od  # noqa: F401 - the compat fixes before TensorFlow loads

    seen: dict[bool, list[float]] = {True: [], False: []}
    for repeat in range(args.repeats):
        for autotune in (True, False):
            speed, dropped = one_pass(args.run, autotune, args.batches)
            seen[autotune].append(speed)
            print(f"pass {repeat + 1}, autotuning {'on ' if autotune else 'off'}: "
                  f"{speed:.1f} batches/s, iterator dropped in {dropped:.1f} s", flush=True)
    on, off = statistics.median(seen[True]), statistics.median(seen[False])
    print(f"median batches/s: autotuning on {on:.1f}, off {off:.1f}: off/on {off / on:.2f}x")


if __name__ == "__main__":
    main()
