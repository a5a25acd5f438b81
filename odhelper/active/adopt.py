"""Decide which pool pictures the model has labelled well enough to train on."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from odhelper.active.pool import PoolImage
from odhelper.data.annotation import Annotation, Box
from odhelper.detections import Prediction


@dataclass
class Candidate:
    image: PoolImage
    annotation: Annotation


def adopt(image: PoolImage, prediction: Prediction, names: Mapping[int, str],
          threshold: float, round_number: int,
          box_threshold: float | None = None) -> Candidate | None:
    """Adopt when the best detection has the picture's class and score >= threshold.

    The new annotation keeps every detection of that class scoring at least
    box_threshold (default: threshold), marked machine-made (verified="no", a
    source tag, the scores). `names` is the model's label map (id -> name).
    """
    box_threshold = threshold if box_threshold is None else box_threshold
    found = prediction.detections
    if not len(found):
        return None
    classes = found.names(names)
    best = int(np.argmax(found.scores))
    if classes[best] != image.label or found.scores[best] < threshold:
        return None
    boxes = [Box(name, *map(float, box), score=float(score))
             for name, score, box in zip(classes, found.scores, found.xyxy)
             if name == image.label and score >= box_threshold]
    annotation = Annotation(filename=image.path.name, width=prediction.width,
                            height=prediction.height, boxes=boxes, folder=image.label,
                            verified=False, source=f"odhelper active-learn round {round_number}")
    return Candidate(image, annotation)
