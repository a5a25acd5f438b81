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
from odhelper.report.draw import draw_detections
from odhelper.thresholds import ScoreRule


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


def predict_video(model: predictor.ExportedModel, path: Path, root: Path, out: Path,
                  rule: ScoreRule) -> VideoResult:
    """Every frame through `model` (resized as `predictor.detect` resizes pictures),
    the detections `rule` keeps drawn and listed."""
    from PIL import Image

    reader = video_io.VideoReader(path)
    annotated, csv_path = video_io.outputs_for(path, root, out)
    result, rows = VideoResult(path, annotated, csv_path), []
    writer = video_io.video_writer(annotated, reader.fps)
    names = model.class_names
    started = time.perf_counter()
    try:
        for index, frame in enumerate(log.progress(reader, total=reader.frames,
                                                   desc=path.name, unit="frame")):
            found = rule.apply(predictor.detect_picture(model, frame, resize=True), names)
            seconds = index / reader.fps
            rows += [[str(index), f"{seconds:.3f}", name, f"{score:.4f}"]
                     + [f"{v:.1f}" for v in box]
                     for name, score, box in zip(found.names(names), found.scores, found.xyxy)]
            writer.append_data(np.asarray(draw_detections(Image.fromarray(frame), found, names)))
            result.frames += 1
            result.detections += len(found)
    finally:
        writer.close()
    result.seconds = time.perf_counter() - started
    video_io.write_frame_csv(rows, csv_path)
    log.info("%s: %d frames, %d detections >= %s, %.1f frames/s -> %s, %s", path,
             result.frames, result.detections, rule.short(), result.frames_per_second,
             annotated, csv_path)
    return result
