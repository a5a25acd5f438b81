"""odhelper predict: run an exported detector over pictures; draw, CSV, LabelImg XML."""
from __future__ import annotations

NAME = "predict"
HELP = "detect objects in pictures with an exported model: drawn pictures, CSV, XML"


def options_class():
    from odhelper.options.inference import PredictOptions
    return PredictOptions


def run(options) -> int:
    from odhelper import log
    from odhelper.options.fields import save_yaml
    from odhelper.workflows.predict import predict

    with log.to_dir(options.output), log.stage(
            "Predict", "prediction", model=options.model, input=options.input) as stage:
        result = predict(options)
        stage.extra.update(pictures=result.pictures, detections=result.detections,
                           skipped=len(result.problems),
                           images_per_second=round(result.images_per_second, 2))
        save_yaml(options, options.output / "predict.yaml")
        for video in result.videos:
            stage.extra[video.video.name] = f"{video.frames} frames, " \
                f"{video.frames_per_second:.1f} frames/s"
        if result.pictures or not result.videos:
            log.info("Predicted %d pictures, %d detections >= %s, %d skipped: %.1f images/s "
                     "-> %s", result.pictures, result.detections,
                     result.rule.short(),
                     len(result.problems), result.images_per_second, options.output)
    return 0
