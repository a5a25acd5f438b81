"""The per-class table, scored by the OD API's own Pascal VOC and COCO evaluators.

Columns: class, validation images, boxes, AP@0.5 (Pascal VOC), COCO AP@[.5:.95],
AP50, AR@100, and at the score threshold: detections, correct, precision, recall.
The last row ("all") holds the evaluators' overall numbers (mean over classes).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

from odhelper import foreign
from odhelper.constants import COCO_AP50, COCO_AR100, COCO_MAP, PASCAL_CLASS_AP50, PASCAL_MAP50
from odhelper.metrics.matching import ImageResult, match_detections

PASCAL_MAP = PASCAL_MAP50
PASCAL_CLASS = PASCAL_CLASS_AP50 + "{}"
COCO_CLASS = "DetectionBoxes_Precision/mAP ByCategory/{}"
COCO_CLASS_AP50 = "DetectionBoxes_Precision/mAP@.50IOU ByCategory/{}"
COCO_CLASS_AR100 = "DetectionBoxes_Recall/AR@100 ByCategory/{}"
OVERALL = "all"


@dataclass
class ClassRow:
    name: str
    images: int
    boxes: int
    ap_voc: float  # Pascal VOC AP at IoU 0.5
    coco_ap: float  # COCO AP averaged over IoU .5:.95
    ap50: float  # COCO AP at IoU .5
    ar100: float  # COCO recall with 100 detections per image
    detections: int  # detections scoring >= threshold
    correct: int  # of those, matched to a box of the class at IoU >= 0.5
    precision: float
    recall: float

    def as_dict(self) -> dict:
        return asdict(self)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def _clean(value) -> float:
    """The evaluators write -1 (COCO) or NaN (Pascal) for a class without boxes."""
    value = float(value)
    return float("nan") if value < 0 or math.isnan(value) else value


def od_api_metrics(results: Sequence[ImageResult], categories: Sequence[dict]) -> dict:
    """Run the OD API's Pascal VOC and COCO box evaluators; return their metrics."""
    from odhelper.od import api

    od = api()
    fields = od.standard_fields
    pascal = od.object_detection_evaluation.PascalDetectionEvaluator(list(categories))
    coco = od.coco_evaluation.CocoDetectionEvaluator(
        list(categories), include_metrics_per_category=True, all_metrics_per_category=True)
    for result in results:
        truth = {fields.InputDataFields.groundtruth_boxes: result.gt_boxes,
                 fields.InputDataFields.groundtruth_classes: result.gt_classes,
                 fields.InputDataFields.groundtruth_difficult: result.gt_difficult}
        found = {fields.DetectionResultFields.detection_boxes: result.detections.yxyx,
                 fields.DetectionResultFields.detection_scores: result.detections.scores,
                 fields.DetectionResultFields.detection_classes: result.detections.classes}
        for evaluator in (pascal, coco):
            evaluator.add_single_ground_truth_image_info(result.image_id, truth)
            evaluator.add_single_detected_image_info(result.image_id, found)
    metrics = {}
    for evaluator in (pascal, coco):
        with foreign.printed():  # pycocotools prints its summary
            metrics.update({k: float(v) for k, v in evaluator.evaluate().items()})
    return metrics


def _counts(results: Iterable[ImageResult], class_id: int, threshold: float):
    images = boxes = detections = correct = 0
    for result in results:
        in_image = int(np.sum(result.gt_classes == class_id))
        images += in_image > 0
        boxes += in_image
        hits = match_detections(result.above(threshold), class_id)
        detections += len(hits)
        correct += int(hits.sum())
    return images, boxes, detections, correct


def class_table(results: Sequence[ImageResult], categories: Sequence[dict],
                threshold: float = 0.5, metrics: dict | None = None) -> list[ClassRow]:
    """One row per category plus the overall row; `metrics` (from od_api_metrics)
    is computed here when not given."""
    if not results:
        raise ValueError("no validation pictures to evaluate")
    metrics = od_api_metrics(results, categories) if metrics is None else metrics
    rows = []
    for category in categories:
        name = category["name"]
        images, boxes, detections, correct = _counts(results, category["id"], threshold)
        rows.append(ClassRow(
            name, images, boxes, _clean(metrics.get(PASCAL_CLASS.format(name), -1)),
            _clean(metrics.get(COCO_CLASS.format(name), -1)),
            _clean(metrics.get(COCO_CLASS_AP50.format(name), -1)),
            _clean(metrics.get(COCO_CLASS_AR100.format(name), -1)),
            detections, correct, _ratio(correct, detections), _ratio(correct, boxes)))
    images = sum(1 for r in results if len(r.gt_classes))
    boxes, detections = sum(r.boxes for r in rows), sum(r.detections for r in rows)
    correct = sum(r.correct for r in rows)
    rows.append(ClassRow(
        OVERALL, images, boxes, _clean(metrics.get(PASCAL_MAP, -1)),
        _clean(metrics.get(COCO_MAP, -1)), _clean(metrics.get(COCO_AP50, -1)),
        _clean(metrics.get(COCO_AR100, -1)), detections, correct,
        _ratio(correct, detections), _ratio(correct, boxes)))
    return rows
