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

    result = run_training(options)
    if result.exported is not None and result.exported.error():
        raise result.exported.error()  # an artifact failed its check; the run itself is done
    return 0
