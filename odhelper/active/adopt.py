"""Decide which pool pictures the model has labelled well enough to train on."""
from __future__ import annotations

from dataclasses import dataclass

from odhelper.active.pool import PoolImage
from odhelper.data.annotation import Annotation, Box


@dataclass
class Detection:
    name: str
    score: float
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass
class Candidate:
    image: PoolImage
    annotation: Annotation


def adopt(image: PoolImage, detections: list[Detection], width: int, height: int,
          threshold: float, round_number: int,
          box_threshold: float | None = None) -> Candidate | None:
    """Adopt when the best detection has the picture's class and score >= threshold.

    The new annotation keeps every detection of that class scoring at least
    box_threshold (default: threshold), marked machine-made (verified="no", a
    source tag, the scores).
    """
    box_threshold = threshold if box_threshold is None else box_threshold
    if not detections:
        return None
    best = max(detections, key=lambda d: d.score)
    if best.name != image.label or best.score < threshold:
        return None
    boxes = [Box(d.name, d.xmin, d.ymin, d.xmax, d.ymax, score=d.score)
             for d in detections if d.name == image.label and d.score >= box_threshold]
    annotation = Annotation(filename=image.path.name, width=width, height=height,
                            boxes=boxes, folder=image.label, verified=False,
                            source=f"odhelper active-learn round {round_number}")
    return Candidate(image, annotation)
