"""`odhelper augment-preview`: a PNG grid of training samples as the OD API's training
input pipeline makes them (after augmentation and resize), boxes drawn."""
from __future__ import annotations

from pathlib import Path

from odhelper import log
from odhelper.options.training import AugmentPreviewOptions
from odhelper.rundir import RunDir


def _configs(options: AugmentPreviewOptions) -> dict:
    from odhelper.pipeline import config, registry, zoo

    if options.run_dir is not None:
        return config.load(RunDir(options.run_dir).require().pipeline_config)
    checkpoint = zoo.cached(registry.get(options.model))
    return config.fill(config.FillRequest(
        model=options.model, dataset=options.dataset, augmentation=options.augmentation,
        checkpoint=str(checkpoint) if checkpoint else None))


def write_preview(configs: dict, output: Path, count: int = 16, seed: int = 0) -> Path:
    """The grid for these configs, written to `output`; the augmentations logged."""
    from odhelper.pipeline import augment
    from odhelper.report.augment_preview import write_grid

    for step in augment.describe(configs["train_config"]) or ["(none)"]:
        log.info("Augmentation: %s", step)
    write_grid(configs, output, count, seed)
    return output


def preview(options: AugmentPreviewOptions) -> Path:
    output = options.output or (RunDir(options.run_dir).augment_preview if options.run_dir
                                else Path("augment_preview.png"))
    return write_preview(_configs(options), output, options.count, options.seed)
