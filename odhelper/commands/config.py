"""odhelper config: fill a model template for a dataset into a pipeline.config."""
from __future__ import annotations

from pathlib import Path

NAME = "config"
HELP = "fill a model's pipeline template for a dataset (num_classes, paths, steps, metrics)"


def add_arguments(parser) -> None:
    from odhelper.commands.run import add_set_flag

    parser.add_argument("--model", "-m", required=True, help="model name (odhelper zoo list)")
    parser.add_argument("--dataset", "-d", type=Path, required=True,
                        help="dataset folder written by odhelper tfrecord")
    parser.add_argument("--output", "-o", type=Path, required=True,
                        help="pipeline.config to write")
    parser.add_argument("--steps", "-n", type=int, help="num_steps (and LR schedule length)")
    parser.add_argument("--batch-size", "-b", type=int, help="training batch size")
    parser.add_argument("--checkpoint", help="pre-trained checkpoint (.tar.gz, folder or "
                        "prefix); default: the zoo checkpoint if already cached")
    add_set_flag(parser)


def main(args) -> int:
    from odhelper import log
    from odhelper.pipeline import config, registry, zoo

    log.setup(verbose=args.verbose)
    spec = registry.get(args.model)
    checkpoint = zoo.local(args.checkpoint) if args.checkpoint else zoo.cached(spec)
    configs = config.fill(config.FillRequest(
        model=args.model, dataset=args.dataset, steps=args.steps, batch_size=args.batch_size,
        overrides=args.set, checkpoint=str(checkpoint) if checkpoint else None))
    path = config.write(configs, args.output)
    log.info("Wrote %s", path)
    return 0
