"""What a detector found, in one vocabulary for every user (predict on pictures and
videos, active-learn, evaluate, the artifact check, the report).

`Detections` holds one picture's boxes in pixels, stored in the OD API's order
(ymin, xmin, ymax, xmax) and read through explicit views: `.yxyx` (matching, IoU)
and `.xyxy` (drawing, CSV, LabelImg XML). Classes are label-map ids (1-based).
`from_outputs` is the one way model outputs become detections: the serving outputs
of a SavedModel, a .tflite or a .onnx file, and a restored checkpoint's
`postprocess` (which counts classes from 0: `label_offset=1`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np


def class_name(names: Mapping[int, str], class_id) -> str:
    """The label map's name of `class_id`, else "class N"."""
    return names.get(int(class_id), f"class {int(class_id)}")


@dataclass
class Detections:
    """Boxes (pixels, stored ymin, xmin, ymax, xmax), scores and label-map ids."""
    yxyx: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    classes: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))

    def __post_init__(self):
        self.yxyx = np.asarray(self.yxyx, np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, np.float32).reshape(-1)
        self.classes = np.asarray(self.classes).astype(np.int64).reshape(-1)
        if not len(self.yxyx) == len(self.scores) == len(self.classes):
            raise ValueError(f"{len(self.yxyx)} boxes, {len(self.scores)} scores, "
                             f"{len(self.classes)} classes")

    @classmethod
    def from_xyxy(cls, boxes, scores, classes) -> "Detections":
        """From pixel boxes given as (xmin, ymin, xmax, ymax)."""
        return cls(np.asarray(boxes, np.float32).reshape(-1, 4)[:, [1, 0, 3, 2]], scores,
                   classes)

    @property
    def xyxy(self) -> np.ndarray:
        """The boxes as (xmin, ymin, xmax, ymax) pixels."""
        return self.yxyx[:, [1, 0, 3, 2]]

    def __len__(self) -> int:
        return len(self.scores)

    def keep(self, which) -> "Detections":
        """The detections a boolean mask (or index array) selects, in its order."""
        return Detections(self.yxyx[which], self.scores[which], self.classes[which])

    def above(self, threshold) -> "Detections":
        """Those scoring >= threshold (one value, or one per detection)."""
        return self.keep(self.scores >= threshold)

    def names(self, names: Mapping[int, str]) -> list[str]:
        """Each detection's class name through the label map `names` (id -> name)."""
        return [class_name(names, c) for c in self.classes]


SCORE_DECIMALS = 5


def from_outputs(outputs: Mapping, height: int, width: int, index: int = 0,
                 label_offset: int = 0) -> Detections:
    """Every detection of picture `index` in a model's outputs, in pixels of a
    `height` x `width` picture. The outputs are the serving signature's:
    num_detections, detection_scores, detection_classes (label-map ids, or 0-based
    with `label_offset` 1) and detection_boxes (normalised ymin, xmin, ymax, xmax).
    Every artifact's boxes end inside the picture (the SavedModel clips them, a TFLite
    graph does not), and scores are rounded to SCORE_DECIMALS, so that the float noise
    between two graphs of the same weights does not reorder detections of equal score."""
    # numpy views: slicing the tensors themselves would run eager ops
    count = int(np.asarray(outputs["num_detections"])[index])
    boxes = np.clip(np.asarray(outputs["detection_boxes"])[index, :count], 0.0, 1.0)
    scale = np.array([height, width, height, width], np.float32)
    scores = np.round(np.asarray(outputs["detection_scores"])[index, :count], SCORE_DECIMALS)
    return Detections(boxes * scale, scores,
                      np.asarray(outputs["detection_classes"])[index, :count].astype(np.int64)
                      + label_offset)


@dataclass
class Prediction:
    """The detections of one picture given to `odhelper predict` (or a video frame)."""
    name: str  # path relative to the input folder
    width: int
    height: int
    detections: Detections
