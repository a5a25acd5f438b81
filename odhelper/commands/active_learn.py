"""odhelper active-learn: the model labels an image-level pool, round after round."""
from __future__ import annotations

NAME = "active-learn"
HELP = ("turn image-level labels (POOL/<class>/*.jpg) into training boxes: train, let the "
        "model label the pool, adopt confident pictures, train on, round after round")


def add_arguments(parser) -> None:
    from odhelper.active.options import ActiveOptions
    from odhelper.commands.run import add_set_flag
    from odhelper.options.fields import add_arguments as add_options

    add_options(parser, ActiveOptions)
    add_set_flag(parser)


def main(args) -> int:
    from odhelper.active.loop import active_learn
    from odhelper.active.options import ActiveOptions
    from odhelper.options.fields import from_namespace

    active_learn(from_namespace(ActiveOptions, args))
    return 0
