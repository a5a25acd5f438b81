"""Error analysis from the per-class table's own matching (VOC greedy, IoU >= 0.5).

Every detection scoring >= the threshold gets one kind (`assign_detections` decides
the true positives, exactly as for the per-class table and the Pascal AP):
    tp            it takes a box of its class
    duplicate     it overlaps a box of its class at IoU >= 0.5 that a higher-scoring
                  detection already took
    wrong_class   it overlaps a box of another class at IoU >= 0.5
    localisation  its best box of its class overlaps it at 0.1 <= IoU < 0.5
    background    none of these: a detection on nothing
Every box no detection of its class takes is a miss (FN).

The confusion matrix (rows: true class, then background; columns: predicted class,
then background) counts TP on the diagonal, each wrong-class detection at (the
class of the box it overlaps most, its class), the other false positives in the
background row and the misses in the background column: column c sums to the
detections of class c, and FP(c) is column c minus its diagonal cell.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from odhelper.metrics.matching import MATCH_IOU, ImageResult, assign_detections, iou

LOCALISATION_IOU = 0.1
FP_KINDS = ("wrong_class", "localisation", "duplicate", "background")
BACKGROUND = "background"


@dataclass
class Detection:
    """One detection scoring >= the threshold, with its kind."""
    image: int  # index into the results
    index: int  # index into that result's detections
    class_id: int
    score: float
    kind: str  # "tp" or one of FP_KINDS
    true_class: int = 0  # the overlapped box's class for wrong_class


@dataclass
class Miss:
    """A box no detection of its class took."""
    image: int
    index: int  # index into that result's ground truth
    class_id: int
    area: float


@dataclass
class ClassErrors:
    name: str
    boxes: int = 0
    tp: int = 0
    fp: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FP_KINDS, 0))
    fn: int = 0

    @property
    def fp_total(self) -> int:
        return sum(self.fp.values())

    @property
    def precision(self) -> float:
        found = self.tp + self.fp_total
        return self.tp / found if found else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / self.boxes if self.boxes else float("nan")

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)


def _f1(precision: float, recall: float) -> float:
    if np.isnan(precision) or np.isnan(recall) or precision + recall == 0:
        return 0.0 if precision == 0 or recall == 0 else float("nan")
    return 2 * precision * recall / (precision + recall)


@dataclass
class ErrorAnalysis:
    threshold: float
    names: list[str]  # category names, in label-map order
    matrix: np.ndarray  # [K+1, K+1] ints, last row/column background
    classes: list[ClassErrors]  # per category, then the overall row "all"
    detections: list[Detection]
    misses: list[Miss]

    def worst_false_positives(self, class_id: int, limit: int) -> list[Detection]:
        """The highest-scoring false positives of a class, one per picture first."""
        found = [d for d in self.detections if d.class_id == class_id and d.kind != "tp"]
        return _spread(sorted(found, key=lambda d: -d.score), limit)

    def worst_misses(self, class_id: int, limit: int) -> list[Miss]:
        """The largest missed boxes of a class, one per picture first."""
        found = [m for m in self.misses if m.class_id == class_id]
        return _spread(sorted(found, key=lambda m: -m.area), limit)


def _spread(ranked: list, limit: int) -> list:
    """The first `limit` of `ranked` taking each picture's best before any second one
    (a gallery shows as many pictures as it can, not one picture four times)."""
    first, later, seen = [], [], set()
    for item in ranked:
        (later if item.image in seen else first).append(item)
        seen.add(item.image)
    return (first + later)[:limit]


def _kind(result: ImageResult, det: int, class_id: int) -> tuple[str, int]:
    overlaps = iou(result.detections.yxyx[det:det + 1], result.gt_boxes)[0] \
        if len(result.gt_boxes) else np.zeros(0)
    own = result.gt_classes == class_id
    best_own = float(overlaps[own].max()) if own.any() else 0.0
    if best_own >= MATCH_IOU:
        return "duplicate", 0
    other = np.where(~own, overlaps, -1.0)
    if len(other) and other.max() >= MATCH_IOU:
        return "wrong_class", int(result.gt_classes[int(np.argmax(other))])
    if best_own >= LOCALISATION_IOU:
        return "localisation", 0
    return BACKGROUND, 0


def analyse(results: Sequence[ImageResult], categories: Sequence[dict],
            threshold: float) -> ErrorAnalysis:
    """Kinds, misses, per-class counts and the confusion matrix at `threshold`."""
    ids = [c["id"] for c in categories]
    position = {class_id: i for i, class_id in enumerate(ids)}
    back = len(ids)
    matrix = np.zeros((back + 1, back + 1), np.int64)
    rows = {c["id"]: ClassErrors(c["name"]) for c in categories}
    detections, misses = [], []
    for number, full in enumerate(results):
        result = full.above(threshold)
        kept = np.flatnonzero(full.detections.scores >= threshold)  # result -> full index
        for class_id in ids:
            row = rows[class_id]
            truth = np.flatnonzero(result.gt_classes == class_id)
            row.boxes += len(truth)
            order, taken_by = assign_detections(result, class_id)
            for det, box in zip(order, taken_by):
                kind, true_class = ("tp", class_id) if box >= 0 else \
                    _kind(result, det, class_id)
                detections.append(Detection(number, int(kept[det]), class_id,
                                            float(result.detections.scores[det]), kind,
                                            true_class))
                if kind == "tp":
                    row.tp += 1
                else:
                    row.fp[kind] += 1
                truth_row = position.get(true_class, back) if true_class else back
                matrix[truth_row, position[class_id]] += 1
            for box in sorted(set(truth) - set(taken_by.tolist())):
                y0, x0, y1, x1 = result.gt_boxes[box]
                misses.append(Miss(number, int(box), class_id, float((y1 - y0) * (x1 - x0))))
                row.fn += 1
                matrix[position[class_id], back] += 1
    overall = ClassErrors("all", sum(r.boxes for r in rows.values()),
                          sum(r.tp for r in rows.values()),
                          {k: sum(r.fp[k] for r in rows.values()) for k in FP_KINDS},
                          sum(r.fn for r in rows.values()))
    return ErrorAnalysis(threshold, [c["name"] for c in categories], matrix,
                         list(rows.values()) + [overall], detections, misses)


@dataclass
class Curve:
    """Precision, recall and F1 of one class as the score threshold falls: one point
    per distinct detection score (keep detections scoring >= threshold)."""
    name: str
    boxes: int
    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray

    @property
    def fn(self) -> np.ndarray:
        return self.boxes - self.tp

    @property
    def precision(self) -> np.ndarray:
        return self.tp / np.maximum(self.tp + self.fp, 1)

    @property
    def recall(self) -> np.ndarray:
        return self.tp / self.boxes if self.boxes else np.zeros(len(self.tp))

    @property
    def f1(self) -> np.ndarray:
        total = self.precision + self.recall
        return np.where(total > 0, 2 * self.precision * self.recall / np.where(
            total > 0, total, 1), 0.0)


def curves(results: Sequence[ImageResult], categories: Sequence[dict]) -> list[Curve]:
    """Per class, the curve over every detection (VOC greedy matching is decided in
    score order, so the matches above a threshold are those of all detections cut
    at it: this is the precision-recall curve the Pascal AP is computed from)."""
    found = []
    for category in categories:
        scores, hits, boxes = [], [], 0
        for result in results:
            boxes += int(np.sum(result.gt_classes == category["id"]))
            order, taken_by = assign_detections(result, category["id"])
            scores.extend(result.detections.scores[order].tolist())
            hits.extend((taken_by >= 0).tolist())
        scores, hits = np.asarray(scores, np.float64), np.asarray(hits, bool)
        order = np.argsort(-scores, kind="stable")
        scores, hits = scores[order], hits[order]
        last = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True]) if len(scores) \
            else np.zeros(0, np.int64)  # last detection of each distinct score
        tp, fp = np.cumsum(hits), np.cumsum(~hits)
        found.append(Curve(category["name"], boxes, scores[last], tp[last], fp[last]))
    return found


def average_precision(curve: Curve) -> float:
    """Pascal VOC (all-point interpolated) AP from the curve."""
    if not curve.boxes:
        return float("nan")
    recall = np.r_[0.0, curve.recall, 1.0]
    precision = np.r_[0.0, curve.precision, 0.0]
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


@dataclass
class OperatingPoint:
    name: str
    threshold: float
    precision: float
    recall: float
    f1: float
    rule: str  # "max F1", "precision >= P", "recall >= R"
    met: bool = True  # False: the target is out of reach, max F1 is used


def choice_rule(target_precision: float | None, target_recall: float | None) -> str:
    """How operating points are chosen, in words (thresholds.json, the log)."""
    if target_precision is not None:
        return f"precision >= {target_precision:g}"
    if target_recall is not None:
        return f"recall >= {target_recall:g}"
    return "max F1"


def operating_point(curve: Curve, target_precision: float | None = None,
                    target_recall: float | None = None,
                    default: float = 0.5) -> OperatingPoint:
    """The threshold that maximises F1 (the highest such), or with a target: the
    lowest threshold whose precision reaches it (most recall), or the highest whose
    recall reaches it (most precision). A class without detections keeps `default`."""
    if not len(curve.thresholds):
        return OperatingPoint(curve.name, default, float("nan"), float("nan"),
                              float("nan"), "no detections", False)
    precision, recall, f1 = curve.precision, curve.recall, curve.f1
    pick, rule, met = None, choice_rule(target_precision, target_recall), True
    if target_precision is not None:
        reach = np.flatnonzero(precision >= target_precision)
        pick = int(reach[-1]) if len(reach) else None
    elif target_recall is not None:
        reach = np.flatnonzero(recall >= target_recall)
        pick = int(reach[0]) if len(reach) else None
    if pick is None:
        if rule != "max F1":
            met, rule = False, rule + " not reached: max F1"
        pick = int(np.argmax(f1))  # first maximum: the highest threshold
    return OperatingPoint(curve.name, float(curve.thresholds[pick]), float(precision[pick]),
                          float(recall[pick]), float(f1[pick]), rule, met)
