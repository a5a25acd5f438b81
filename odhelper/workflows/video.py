"""`odhelper predict` on videos: every frame through the model (any artifact kind),
boxes drawn into an annotated MP4, and a per-frame detections CSV."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from odhelper import log
from odhelper.engine import predictor
from odhelper.report import video as video_io
from odhelper.report.draw import draw_boxes


@dataclass
class VideoResult:
    video: Path
    annotated: Path
    csv: Path
    frames: int = 0
    detections: int = 0
    seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def _model_input(model: predictor.ExportedModel, frame: np.ndarray):
    """The frame as the picture pipeline feeds it: resized to a fixed input size."""
    import tensorflow as tf

    pixels = tf.constant(frame)
    if model.input_size is not None:
        resized = tf.image.resize(pixels, model.input_size)
        pixels = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
    return tf.cast(pixels[tf.newaxis], model.input_dtype)


def predict_video(model: predictor.ExportedModel, path: Path, root: Path, out: Path,
                  threshold: float) -> VideoResult:
    from PIL import Image

    reader = video_io.VideoReader(path)
    annotated, csv_path = video_io.outputs_for(path, root, out)
    result, rows = VideoResult(path, annotated, csv_path), []
    writer = video_io.video_writer(annotated, reader.fps)
    started = time.perf_counter()
    try:
        for index, frame in enumerate(log.progress(reader, total=reader.frames,
                                                   desc=path.name, unit="frame")):
            height, width = frame.shape[:2]
            found = predictor.to_prediction(model.function(input_tensor=_model_input(model,
                                                                                     frame)),
                                            path.name, height, width, threshold)
            seconds = index / reader.fps
            names = [model.name_of(c) for c in found.classes]
            rows += [[str(index), f"{seconds:.3f}", name, f"{score:.4f}"]
                     + [f"{v:.1f}" for v in box]
                     for name, score, box in zip(names, found.scores, found.boxes)]
            picture = Image.fromarray(frame)
            draw_boxes(picture, found.boxes, [f"{n} {s:.2f}" for n, s in
                                              zip(names, found.scores)], found.classes)
            writer.append_data(np.asarray(picture))
            result.frames += 1
            result.detections += len(found.scores)
    finally:
        writer.close()
    result.seconds = time.perf_counter() - started
    video_io.write_frame_csv(rows, csv_path)
    log.info("%s: %d frames, %d detections >= %.2f, %.1f frames/s -> %s, %s", path,
             result.frames, result.detections, threshold, result.frames_per_second,
             annotated, csv_path)
    return result
