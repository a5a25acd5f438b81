"""Score an exported artifact (SavedModel, .tflite, .onnx) on the validation records,
with the ground truth `odhelper evaluate` uses, and time it per picture."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from odhelper.engine import records
from odhelper.engine.predictor import ExportedModel, detect_picture
from odhelper.errors import OdhelperError
from odhelper.metrics.matching import ImageResult


@dataclass
class ArtifactRun:
    results: list[ImageResult]  # ground truth + the artifact's detections, pixels
    latency_ms: float  # mean time of one call on one picture (after a warm-up call)


def validation_pictures(files: list[str], label_map: Path) -> list[tuple[np.ndarray, ImageResult]]:
    """Decoded once, scored by every artifact."""
    pictures = [(image, truth) for _, image, truth in records.read(files, label_map)]
    if not pictures:
        raise OdhelperError(f"{', '.join(files)}: no records to evaluate")
    return pictures


def run_artifact(model: ExportedModel, pictures) -> ArtifactRun:
    """Detections of `model` on every picture (each at its own size: every artifact
    resizes as its own graph does)."""
    from odhelper import log

    detect_picture(model, pictures[0][0])  # warm-up: graph optimisation, allocation
    results, seconds = [], 0.0
    for image, truth in log.progress(pictures, desc=model.kind, unit="img"):
        started = time.perf_counter()
        found = detect_picture(model, image)
        seconds += time.perf_counter() - started
        results.append(truth.with_detections(found))
    return ArtifactRun(results, 1000.0 * seconds / len(pictures))


def size_on_disk(path: Path) -> int:
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
