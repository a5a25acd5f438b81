"""odhelper config: fill a model template for a dataset into a pipeline.config."""
from __future__ import annotations

NAME = "config"
HELP = "fill a model's pipeline template for a dataset (num_classes, paths, steps, metrics)"


def options_class():
    from odhelper.options.inference import ConfigOptions
    return ConfigOptions


def run(options) -> int:
    from odhelper import log
    from odhelper.pipeline import config, registry, zoo

    spec = registry.get(options.model)
    checkpoint = zoo.local(options.weights) if options.weights else zoo.cached(spec)
    configs = config.fill(config.FillRequest(
        model=options.model, dataset=options.dataset, steps=options.steps,
        batch_size=options.batch_size, overrides=options.set,
        checkpoint=str(checkpoint) if checkpoint else None,
        augmentation=options.augmentation, image_size=options.image_size,
        anchors=options.anchors))
    path = config.write(configs, options.output)
    log.info("Wrote %s", path)
    return 0
