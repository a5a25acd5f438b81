"""odhelper demo: the whole tool on synthetic shapes, from scratch, offline."""
from __future__ import annotations

NAME = "demo"
HELP = ("draw a synthetic LabelImg dataset and run tfrecord -> run -> evaluate -> predict -> "
        "report on it (SSD MobileNet v2 from scratch on CPU)")


def options_class():
    from odhelper.options.demo import DemoOptions
    return DemoOptions


def run(options) -> int:
    from odhelper import log
    from odhelper.workflows import demo

    if options.generate_only:
        log.info("Synthetic LabelImg pictures: %s", demo.generate_pictures(options))
        return 0
    result = demo.run_demo(options)
    with log.to_dir(options.out):
        for line in demo.where_to_look(result):
            log.info("%s", line)
    return 0
