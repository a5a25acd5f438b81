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


def write_grid(configs: dict, output: Path, count: int = 16, seed: int = 0) -> Path:
    """The grid of the configs' training input, class names from its label map, as PNG."""
    from odhelper import files
    from odhelper.data import labelmap
    from odhelper.engine.train_samples import samples
    from odhelper.report.augment_preview import grid_png

    ids = labelmap.read(Path(configs["train_input_config"].label_map_path))
    files.write_bytes(output, grid_png(samples(configs, count, seed),
                                       {n: name for name, n in ids.items()}))
    return Path(output)


def write_preview(configs: dict, output: Path, count: int = 16, seed: int = 0) -> Path:
    """The grid for these configs, written to `output`; the augmentations logged."""
    from odhelper.pipeline import augment

    for step in augment.describe(configs["train_config"]) or ["(none)"]:
        log.info("Augmentation: %s", step)
    return write_grid(configs, output, count, seed)


def preview(options: AugmentPreviewOptions) -> Path:
    output = options.output or (RunDir(options.run_dir).augment_preview if options.run_dir
                                else Path("augment_preview.png"))
    return write_preview(_configs(options), output, options.count, options.seed)
