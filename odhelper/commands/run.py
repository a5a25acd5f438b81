"""odhelper run: dataset -> filled config -> train with periodic evaluation -> export."""
from __future__ import annotations

NAME = "run"
HELP = ("train a detector in one process: optional tfrecord stage, config, training with "
        "evaluation every K steps (best/ kept, resumable), export")


def add_set_flag(parser) -> None:
    parser.add_argument("--set", dest="set", action="extend", nargs="+", default=[],
                        metavar="KEY=VALUE",
                        help="pipeline override, e.g. --set train_config.batch_size=8 "
                             "--set learning_rate=0.001 (repeatable)")


def add_arguments(parser) -> None:
    from odhelper.engine.options import RunOptions
    from odhelper.options.fields import add_arguments as add_options

    add_options(parser, RunOptions)
    add_set_flag(parser)


def main(args) -> int:
    from odhelper.engine.options import RunOptions
    from odhelper.engine.runner import run
    from odhelper.options.fields import from_namespace

    return run(from_namespace(RunOptions, args))
