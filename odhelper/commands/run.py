"""odhelper run: dataset -> filled config -> train with periodic evaluation -> export."""
from __future__ import annotations

NAME = "run"
HELP = ("train a detector in one process: optional tfrecord stage, config, training with "
        "evaluation every K steps (best/ kept, resumable), export, report")


def options_class():
    from odhelper.options.training import RunOptions
    return RunOptions


def run(options) -> int:
    from odhelper.workflows.run import run as run_training

    run_training(options)
    return 0
