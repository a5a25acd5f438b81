"""One picture's ground truth and detections, IoU, and VOC-style greedy matching.

Boxes are pixels in the OD API's order: (ymin, xmin, ymax, xmax) (the ground truth
as arrays, the detections as `detections.Detections`). Classes are the label map's
1-based ids.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from odhelper.detections import Detections

MATCH_IOU = 0.5


def _array(values, width: int | None = None, dtype=np.float32) -> np.ndarray:
    array = np.asarray(values, dtype=dtype)
    if width is not None:
        array = array.reshape(-1, width)
    return array


@dataclass
class ImageResult:
    """Ground truth and detections of one validation picture."""
    image_id: str
    width: int
    height: int
    gt_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    gt_classes: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int32))
    detections: Detections = field(default_factory=Detections)
    gt_difficult: np.ndarray | None = None

    def __post_init__(self):
        self.gt_boxes = _array(self.gt_boxes, 4)
        self.gt_classes = _array(self.gt_classes, dtype=np.int32).reshape(-1)
        if len(self.gt_boxes) != len(self.gt_classes):
            raise ValueError(f"{self.image_id}: {len(self.gt_boxes)} boxes, "
                             f"{len(self.gt_classes)} classes")
        if self.gt_difficult is None:
            self.gt_difficult = np.zeros(len(self.gt_classes), bool)
        self.gt_difficult = np.asarray(self.gt_difficult, bool).reshape(-1)

    def with_detections(self, found: Detections) -> "ImageResult":
        """The same ground truth with `found` as its detections."""
        return ImageResult(self.image_id, self.width, self.height, self.gt_boxes,
                           self.gt_classes, found, self.gt_difficult)

    def above(self, threshold: float) -> "ImageResult":
        """A copy keeping only detections scoring >= threshold."""
        return self.with_detections(self.detections.above(threshold))


def iou(boxes_a, boxes_b) -> np.ndarray:
    """Pairwise IoU matrix [len(a), len(b)] of (ymin, xmin, ymax, xmax) boxes."""
    a, b = _array(boxes_a, 4), _array(boxes_b, 4)
    top = np.maximum(a[:, None, 0], b[None, :, 0])
    left = np.maximum(a[:, None, 1], b[None, :, 1])
    bottom = np.minimum(a[:, None, 2], b[None, :, 2])
    right = np.minimum(a[:, None, 3], b[None, :, 3])
    overlap = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - overlap
    return np.where(union > 0, overlap / np.where(union > 0, union, 1), 0.0)


def assign_detections(result: ImageResult, class_id: int,
                      min_iou: float = MATCH_IOU) -> tuple[np.ndarray, np.ndarray]:
    """VOC greedy matching of the detections of `class_id`: (their indices in
    `result`, best score first; the index of the ground-truth box each one takes,
    -1 for none). A detection takes its best-overlapping box of the class when that
    IoU is >= min_iou and no higher-scoring detection took it."""
    found = result.detections
    det = np.flatnonzero(found.classes == class_id)
    det = det[np.argsort(-found.scores[det], kind="stable")]
    gt = np.flatnonzero(result.gt_classes == class_id)
    taken_by = np.full(len(det), -1, np.int64)
    if not len(det) or not len(gt):
        return det, taken_by
    overlaps = iou(found.yxyx[det], result.gt_boxes[gt])
    taken = np.zeros(len(gt), bool)
    for row in range(len(det)):
        best = int(np.argmax(overlaps[row]))
        if overlaps[row, best] >= min_iou and not taken[best]:
            taken[best] = True
            taken_by[row] = gt[best]
    return det, taken_by


def match_detections(result: ImageResult, class_id: int,
                     min_iou: float = MATCH_IOU) -> np.ndarray:
    """For each detection of `class_id` (best score first), whether it hits a
    not-yet-matched ground-truth box of that class at IoU >= min_iou (VOC rule)."""
    return assign_detections(result, class_id, min_iou)[1] >= 0
