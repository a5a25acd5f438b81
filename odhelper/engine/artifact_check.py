"""Score an exported artifact (SavedModel, .tflite, .onnx) on the validation records,
with the ground truth `odhelper evaluate` uses, and time it per picture."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from odhelper.engine import detections
from odhelper.engine.predictor import ExportedModel
from odhelper.errors import OdhelperError
from odhelper.metrics.matching import ImageResult


@dataclass
class ArtifactRun:
    results: list[ImageResult]  # ground truth + the artifact's detections, pixels
    latency_ms: float  # mean time of one call on one picture (after a warm-up call)


def validation_pictures(files: list[str], label_map: Path) -> list[tuple[np.ndarray, ImageResult]]:
    """Decoded once, scored by every artifact."""
    pictures = [(image.numpy(), truth) for image, truth in detections.truths(files, label_map)]
    if not pictures:
        raise OdhelperError(f"{', '.join(files)}: no records to evaluate")
    return pictures


def run_artifact(model: ExportedModel, pictures) -> ArtifactRun:
    """Detections of `model` on every picture (each at its own size: every artifact
    resizes as its own graph does)."""
    from odhelper import log

    def call(image):
        return model.function(input_tensor=np.asarray(image)[np.newaxis].astype(
            model.input_dtype.as_numpy_dtype, copy=False))

    call(pictures[0][0])  # warm-up: graph optimisation, interpreter allocation
    results, seconds = [], 0.0
    for image, truth in log.progress(pictures, desc=model.kind, unit="img"):
        started = time.perf_counter()
        outputs = call(image)
        seconds += time.perf_counter() - started
        count = int(np.asarray(outputs["num_detections"])[0])
        results.append(detections.with_detections(
            truth, np.asarray(outputs["detection_boxes"])[0, :count],
            np.asarray(outputs["detection_scores"])[0, :count],
            np.asarray(outputs["detection_classes"])[0, :count]))
    return ArtifactRun(results, 1000.0 * seconds / len(pictures))


def size_on_disk(path: Path) -> int:
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
