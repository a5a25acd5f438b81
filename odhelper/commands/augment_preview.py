"""odhelper augment-preview: see what the model sees."""
from __future__ import annotations

NAME = "augment-preview"
HELP = ("PNG grid of training samples after the OD API's augmentation and resize, boxes "
        "drawn (--run-dir RUN, or --model M --dataset D with --augment/--no-hflip/...)")


def options_class():
    from odhelper.options.training import AugmentPreviewOptions
    return AugmentPreviewOptions


def run(options) -> int:
    from odhelper import log
    from odhelper.workflows.augment_preview import preview

    log.info("Wrote %s", preview(options))
    return 0
