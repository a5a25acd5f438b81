"""odhelper predict: run an exported detector over pictures; draw, CSV, LabelImg XML."""
from __future__ import annotations

NAME = "predict"
HELP = "detect objects in pictures with an exported model: drawn pictures, CSV, XML"


def add_arguments(parser) -> None:
    from odhelper.report.predictions import PredictOptions
    from odhelper.options.fields import add_arguments as add_options

    add_options(parser, PredictOptions)


def main(args) -> int:
    from odhelper import log
    from odhelper.report.predictions import PredictOptions, predict
    from odhelper.options.fields import from_namespace

    options = from_namespace(PredictOptions, args)
    log.setup(options.output, verbose=args.verbose)
    with log.stage("Predict", "prediction", model=options.model, input=options.input) as stage:
        result = predict(options)
        stage.extra.update(pictures=result.pictures, detections=result.detections,
                           skipped=len(result.problems),
                           images_per_second=round(result.images_per_second, 2))
    log.info("Predicted %d pictures, %d detections >= %.2f, %d skipped: %.1f images/s -> %s",
             result.pictures, result.detections, options.threshold, len(result.problems),
             result.images_per_second, options.output)
    return 0
