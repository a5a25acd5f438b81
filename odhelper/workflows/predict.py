"""`odhelper predict`: run an exported detector over a folder of pictures and
write drawn pictures, detections.csv and LabelImg XML."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from odhelper import log
from odhelper.constants import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from odhelper.engine import predictor
from odhelper.errors import OdhelperError
from odhelper.metrics.error_tables import read_thresholds
from odhelper.options.inference import PredictOptions
from odhelper.report.predictions import CSV_NAME, csv_rows, write_csv, write_outputs
from odhelper.rundir import THRESHOLDS

DEFAULT_THRESHOLD = 0.5


@dataclass
class PredictResult:
    pictures: int = 0
    detections: int = 0
    thresholds: dict[str, float] = field(default_factory=dict)  # per class, when shipped
    threshold: float = DEFAULT_THRESHOLD  # the one for every other class
    seconds: float = 0.0
    problems: list = field(default_factory=list)
    videos: list = field(default_factory=list)  # workflows.video.VideoResult

    @property
    def images_per_second(self) -> float:
        return self.pictures / self.seconds if self.seconds else 0.0


def predict(options: PredictOptions) -> PredictResult:
    """Detect on every picture and video under options.input; write the chosen outputs."""
    root = options.input if options.input.is_dir() else options.input.parent
    is_video = options.input.suffix.lower() in VIDEO_SUFFIXES
    paths = [] if is_video else predictor.list_images(options.input)
    paths = [p for p in paths if p.suffix.lower() not in VIDEO_SUFFIXES]
    videos = predictor.list_images(options.input, VIDEO_SUFFIXES) if is_video or \
        options.input.is_dir() else []
    if not paths and not videos:  # said before the model is loaded
        suffixes = ", ".join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)
        raise OdhelperError(f"{options.input}: no pictures or videos ({suffixes})")
    started = time.perf_counter()
    model = predictor.load_model(options.model)
    log.info("Loaded %s %s in %.1f s (input %s, classes: %s)", model.kind, model.path,
             time.perf_counter() - started, model.input_size or "any size",
             ", ".join(model.class_names.values()) or "numbers only")
    result = PredictResult()
    shipped = None if options.threshold is not None else \
        read_thresholds(model.path.parent / THRESHOLDS)
    result.threshold = DEFAULT_THRESHOLD if options.threshold is None else options.threshold
    if shipped:
        result.thresholds = shipped
        log.info("Score thresholds per class from %s: %s (other classes %.2f; --threshold "
                 "sets one for all)", model.path.parent / THRESHOLDS,
                 ", ".join(f"{k} {v:.3f}" for k, v in shipped.items()), result.threshold)
    else:
        log.info("Score threshold %.2f for every class", result.threshold)
    floor = min([result.threshold, *shipped.values()]) if shipped else result.threshold
    for video in videos:  # one threshold for every class
        from odhelper.workflows.video import predict_video
        result.videos.append(predict_video(model, video, root, options.output,
                                           result.threshold))
    if paths:
        _pictures(model, paths, root, options, result, shipped, floor)
    return result


def _pictures(model, paths, root, options: PredictOptions, result: PredictResult,
              shipped: dict[str, float] | None, floor: float) -> None:
    """Detect at `floor`, keep each class's detections from its shipped threshold on."""
    rows, pending = [], []
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        stream = predictor.detect(model, paths, root, result.problems, floor, options.workers)
        for prediction in log.progress(stream, total=len(paths), desc="predict", unit="img"):
            if shipped:
                prediction = per_class_cut(prediction, model, shipped, result.threshold)
            result.pictures += 1
            result.detections += len(prediction.scores)
            rows.extend(csv_rows(prediction, model))
            if options.draw or options.xml:
                pending.append(pool.submit(write_outputs, prediction, model,
                                           root / prediction.name, options.output,
                                           options.draw, options.xml))
            while len(pending) > 16:
                pending.pop(0).result()
        for job in pending:
            job.result()
    if options.csv:
        write_csv(rows, options.output / CSV_NAME)
    result.seconds = time.perf_counter() - started
    for item in result.problems:
        log.warning("%s: %s (%s): %s", item.file, item.reason, item.detail, item.action)


def per_class_cut(prediction: predictor.Prediction, model: predictor.ExportedModel,
                  thresholds: dict[str, float], other: float) -> predictor.Prediction:
    """Keep each detection scoring at least its class's threshold."""
    needed = np.array([thresholds.get(model.name_of(c), other) for c in prediction.classes],
                      np.float32).reshape(-1)
    keep = prediction.scores >= needed
    return predictor.Prediction(prediction.name, prediction.width, prediction.height,
                                prediction.boxes[keep], prediction.scores[keep],
                                prediction.classes[keep])
