"""odhelper demo: the whole tool on synthetic shapes, from scratch, offline."""
from __future__ import annotations

NAME = "demo"
HELP = ("draw a synthetic LabelImg dataset and run tfrecord -> run -> evaluate -> predict -> "
        "report on it (SSD MobileNet v2 from scratch on CPU, ~10 min on 2 cores)")


def add_arguments(parser) -> None:
    from odhelper.options import fields as settings
    from odhelper.demo.run import DemoOptions

    settings.add_arguments(parser, DemoOptions)
    parser.add_argument("--generate-only", action="store_true",
                        help="only draw the synthetic pictures (with --pool N for a pool)")
    parser.add_argument("--pool", type=int, default=0,
                        help="with --generate-only: also draw N image-level pool pictures "
                             "(pool/<class>/, hidden boxes in pool_truth/)")


def main(args) -> int:
    from odhelper import log
    from odhelper.options import fields as settings
    from odhelper.demo import run

    options = settings.from_namespace(run.DemoOptions, args)
    log.setup(options.out, verbose=args.verbose)
    if args.generate_only:
        synth = run.synth_options(options)
        synth.pool = args.pool
        with log.stage("Synthetic pictures", "drawing", out=synth.out):
            run.generate(synth)
        log.info("Synthetic LabelImg pictures: %s", synth.out)
        return 0
    result = run.run_demo(options)
    for line in run.where_to_look(result):
        log.info("%s", line)
    return 0
