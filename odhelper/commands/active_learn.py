"""odhelper active-learn: the model labels an image-level pool, round after round."""
from __future__ import annotations

NAME = "active-learn"
HELP = ("turn image-level labels (POOL/<class>/*.jpg) into training boxes: train, let the "
        "model label the pool, adopt confident pictures, train on, round after round")


def options_class():
    from odhelper.options.training import ActiveOptions
    return ActiveOptions


def run(options) -> int:
    from odhelper.workflows.active_learn import active_learn

    active_learn(options)
    return 0
