"""`odhelper predict`: run an exported detector over a folder of pictures and videos
and write drawn pictures, detections.csv and LabelImg XML (videos: workflows/video.py)."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from odhelper import log, thresholds, workspace
from odhelper.constants import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from odhelper.engine import predictor
from odhelper.errors import OdhelperError
from odhelper.options.inference import PredictOptions
from odhelper.report.predictions import CSV_NAME, csv_rows, write_csv, write_outputs


@dataclass
class PredictResult:
    pictures: int = 0
    detections: int = 0
    rule: thresholds.ScoreRule = field(default_factory=thresholds.ScoreRule)  # pictures + videos
    seconds: float = 0.0
    problems: list = field(default_factory=list)
    videos: list = field(default_factory=list)  # workflows.video.VideoResult

    @property
    def images_per_second(self) -> float:
        return self.pictures / self.seconds if self.seconds else 0.0


def predict(options: PredictOptions) -> PredictResult:
    """Detect on every picture and video under options.input, every one with the same
    score rule (thresholds.decide); write the chosen outputs into options.output (its
    writer's context: lock, odhelper.log, predict.yaml, the "Predict" stage)."""
    result = PredictResult()
    with workspace.opened(options.output, "predict", options, options.output / "predict.yaml",
                          stage=("Predict", "prediction"),
                          stage_fields={"model": options.model, "input": options.input},
                          has_work=lambda: bool(result.pictures or result.videos)) as opened:
        _predict(options, result)
        opened.stage.extra.update(pictures=result.pictures, detections=result.detections,
                                  skipped=len(result.problems),
                                  images_per_second=round(result.images_per_second, 2))
        for video in result.videos:
            opened.stage.extra[video.video.name] = f"{video.frames} frames, " \
                f"{video.frames_per_second:.1f} frames/s"
        if result.pictures or not result.videos:
            log.info("Predicted %d pictures, %d detections >= %s, %d skipped: %.1f images/s "
                     "-> %s", result.pictures, result.detections, result.rule.short(),
                     len(result.problems), result.images_per_second, options.output)
    return result


def _predict(options: PredictOptions, result: PredictResult) -> None:
    if options.model.suffix.lower() not in predictor.ARTIFACT_SUFFIXES:
        predictor.find_saved_model(options.model)  # a folder without a model, named first
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
    result.rule = thresholds.decide(model.folder, options.threshold)
    log.info("%s%s", result.rule.describe(),
             "; --threshold sets one for all" if result.rule.per_class else "")
    if options.tile:
        log.info("Pictures by %d px tiles (overlap %.0f%%) and whole, detections merged%s",
                 options.tile, options.tile_overlap * 100,
                 "; videos: whole frames" if videos else "")
    for video in videos:
        from odhelper.workflows.video import predict_video
        result.videos.append(predict_video(model, video, root, options.output, result.rule))
    if paths:
        _pictures(model, paths, root, options, result)


def _pictures(model, paths, root, options: PredictOptions, result: PredictResult) -> None:
    rows, pending = [], []
    started = time.perf_counter()
    names = model.class_names
    with ThreadPoolExecutor(max_workers=2) as pool:
        if options.tile:
            from odhelper.engine.tiled import detect_pictures
            stream = detect_pictures(model, paths, root, result.problems, result.rule,
                                     options.tile, options.tile_overlap)
        else:
            stream = predictor.detect(model, paths, root, result.problems, result.rule,
                                      options.calls)
        for prediction in log.progress(stream, total=len(paths), desc="predict", unit="img"):
            result.pictures += 1
            result.detections += len(prediction.detections)
            rows.extend(csv_rows(prediction, names))
            if options.draw or options.xml:
                pending.append(pool.submit(write_outputs, prediction, names,
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
