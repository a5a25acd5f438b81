"""Which annotations are likely wrong, judged by a model that did not train on them.

The approach follows the ObjectLab paper (Tkachenko et al., 2023, "ObjectLab: Automated
Diagnosis of Mislabeled Images in Object Detection Data"): compare each picture's
boxes with out-of-sample detections and score four kinds of issue, each in [0, 1]
(higher: more likely wrong):

- swap: a label box the model covers (IoU >= 0.5) with another class, confidently,
  and not with the label's class;
- bad location: a label box with no detection of its class on it, while a detection
  of its class lies near it (IoU > 0 or its centre within the box's size) and no
  other label box of that class explains that detection;
- overlooked: a confident detection that no label box of any class overlaps by IoU
  APART_IOU or more (objects overlap: fanned cards, a crowd);
- spurious: a label box that no detection of any class supports.

A detection's score is read relative to the model's usual confidence on a real object
of its class u (the median best same-class score on its label boxes): p / (p + u), 0.5
at the usual level, so a weak model whose right answers score 0.2 still ranks its
doubts. A detection that claims something (a swap's class, a bad location's place, an
overlooked object) counts at most as much as the model's own precision at its score,
measured on the scored pictures themselves (most of their boxes are right): of the
detections of its class scoring at least as much, the share that lie on a label box of
that class. A weak model's background detections at 0.3 then count for little when
most of its 0.3 detections are wrong. A swap or a bad location joins that claim with
the doubt about the label (the label's class not found on its box) by their geometric
mean. A label box without support counts as much as the model's recall of its class
makes a missing detection telling. A picture scores its worst issue.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from odhelper.detections import class_name
from odhelper.metrics.matching import ImageResult, iou

SWAP, LOCATION, OVERLOOKED, SPURIOUS = "swap", "bad location", "overlooked", "spurious"
KINDS = (SWAP, LOCATION, OVERLOOKED, SPURIOUS)
COVER_IOU = 0.5  # a detection on a label box
LOWEST_SCORE = 0.05  # detections scoring less are ignored
TYPICAL_FLOOR = 0.05  # the typical confidence of a class is at least this
PRIOR_WEIGHT = 2.0  # detections' worth of prior (at precision 0.5) in each class's precision
APART_IOU = 0.2  # a detection overlapping every label box less than this may be another object


@dataclass
class Issue:
    picture: str  # the evaluation's image id
    kind: str
    class_name: str  # the label's class ("" for overlooked)
    suggested: str  # the model's class (swap, overlooked), else ""
    label_box: tuple | None  # pixels xmin, ymin, xmax, ymax
    model_box: tuple | None
    score: float

    def to_row(self) -> dict:
        def box(value):
            return "" if value is None else " ".join(f"{v:.0f}" for v in value)
        return {"kind": self.kind, "class": self.class_name, "suggested_class": self.suggested,
                "label_box": box(self.label_box), "model_box": box(self.model_box),
                "score": f"{self.score:.4f}"}


@dataclass
class PictureIssues:
    picture: str
    score: float
    issues: list[Issue]


def _xyxy(yxyx) -> tuple:
    return tuple(float(v) for v in (yxyx[1], yxyx[0], yxyx[3], yxyx[2]))


def typical_confidence(results: Sequence[ImageResult]) -> dict[int, tuple[float, float]]:
    """Per class id: (the median over its label boxes of the best score of a detection of
    its class covering it, at least TYPICAL_FLOOR; the share of its label boxes that
    such a detection covers at all: the model's recall)."""
    best: dict[int, list[float]] = {}
    for result in results:
        found = result.detections
        overlaps = iou(result.gt_boxes, found.yxyx) if len(found.scores) else None
        for row, label in enumerate(result.gt_classes):
            score = 0.0
            if overlaps is not None:
                on = (overlaps[row] >= COVER_IOU) & (found.classes == label) & \
                    (found.scores >= LOWEST_SCORE)
                score = float(found.scores[on].max()) if on.any() else 0.0
            best.setdefault(int(label), []).append(score)
    return {label: (max(TYPICAL_FLOOR, float(np.median(scores))),
                    float(np.mean(np.array(scores) > 0))) for label, scores in best.items()}


class Precision:
    """Per class, the precision of the model's detections at each score: of those scoring
    at least as much, the share on a label box of their class (IoU >= COVER_IOU),
    interpolated so that it never falls as the score rises, with a prior of
    PRIOR_WEIGHT detections at 0.5."""

    def __init__(self, results: Sequence[ImageResult]):
        scored: dict[int, list[tuple[float, bool]]] = {}
        for result in results:
            found = result.detections
            keep = found.scores >= LOWEST_SCORE
            boxes, classes, scores = found.yxyx[keep], found.classes[keep], found.scores[keep]
            right = np.zeros(len(scores), bool)
            if len(scores) and len(result.gt_boxes):
                right = ((iou(result.gt_boxes, boxes) >= COVER_IOU) &
                         (result.gt_classes[:, None] == classes[None, :])).any(axis=0)
            for label, score, hit in zip(classes, scores, right):
                scored.setdefault(int(label), []).append((float(score), bool(hit)))
        self._curves = {}
        for label, pairs in scored.items():
            pairs.sort(key=lambda pair: -pair[0])
            hits = np.cumsum([hit for _, hit in pairs])
            seen = np.arange(1, len(pairs) + 1)
            precision = (hits + PRIOR_WEIGHT / 2) / (seen + PRIOR_WEIGHT)
            precision = np.maximum.accumulate(precision[::-1])[::-1]  # interpolated
            self._curves[label] = (-np.array([score for score, _ in pairs]), precision)

    def __call__(self, classes: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The precision at each detection's score (0.5 for a class never detected)."""
        values = np.full(len(scores), 0.5, np.float32)
        for index, (label, score) in enumerate(zip(classes, scores)):
            curve = self._curves.get(int(label))
            if curve is not None:  # the last detection scoring at least `score`
                at = np.searchsorted(curve[0], -score, side="right") - 1
                values[index] = curve[1][max(at, 0)]
        return values


def _near(label_box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Detections whose centre lies within one box size of the label box's centre."""
    size = np.maximum(label_box[2:] - label_box[:2], 1.0)
    centre = (label_box[:2] + label_box[2:]) / 2
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    return (np.abs(centres - centre) <= size).all(axis=1)


def _support(value: float) -> float:
    """A detection at the model's usual confidence (relative 0.5) supports fully."""
    return min(1.0, 2.0 * value)


def _both(claim: float, doubt: float) -> float:
    """A claim elsewhere and the doubt about the label are two views of one error, not
    two independent ones: their geometric mean keeps the issue on the scale of a single
    claim (an overlooked object's), and is 0 when either is 0."""
    return float(np.sqrt(claim * doubt))


def picture_issues(result: ImageResult, typical: Mapping[int, tuple[float, float]],
                   precision: Precision, names: Mapping[int, str]) -> PictureIssues:
    """Every issue of one picture (at most one per label box, one per detection)."""
    found = result.detections
    keep = found.scores >= LOWEST_SCORE
    boxes, classes, raw = found.yxyx[keep], found.classes[keep], found.scores[keep]
    usual = np.array([typical.get(int(c), (TYPICAL_FLOOR, 1.0))[0] for c in classes],
                     np.float32)
    relative = raw / (raw + usual) if len(raw) else raw  # 0.5 at the class's usual score
    claim = np.minimum(relative, precision(classes, raw))  # capped by how often it is right
    overlaps = iou(result.gt_boxes, boxes) if len(boxes) else np.zeros((len(result.gt_boxes), 0))
    explained = (overlaps >= COVER_IOU) & (result.gt_classes[:, None] == classes[None, :])
    used = np.zeros(len(boxes), bool)  # detections that explain a label box's issue
    issues = []
    for row, label in enumerate(result.gt_classes):
        label, label_box = int(label), result.gt_boxes[row]
        same, covering = classes == label, overlaps[row] >= COVER_IOU
        on_label = _support(float(relative[covering & same].max())) \
            if (covering & same).any() else 0.0
        doubt = 1.0 - on_label  # the label's class not found on its box
        used |= covering  # a detection on a label box is never "overlooked"
        candidates = []
        other = covering & ~same
        if other.any():
            pick = int(np.flatnonzero(other)[np.argmax(claim[other])])
            candidates.append((_both(claim[pick], doubt), SWAP, pick))
        free = same & ~covering & ~explained.any(axis=0)
        nearby = free & ((overlaps[row] > 0) | _near(label_box, boxes)) if len(boxes) else free
        near_support = relative * np.minimum(1.0, overlaps[row] / COVER_IOU)
        support = _support(float(near_support.max())) if len(boxes) else 0.0
        unsupported = (1.0 - support) * typical.get(label, (TYPICAL_FLOOR, 1.0))[1]
        if nearby.any():  # the box is likely the object's displaced box, not a ghost
            away = claim * (1.0 - overlaps[row] / COVER_IOU)
            pick = int(np.flatnonzero(nearby)[np.argmax(away[nearby])])
            candidates.append((max(_both(away[pick], doubt), unsupported), LOCATION, pick))
        else:
            candidates.append((unsupported, SPURIOUS, None))
        score, kind, pick = max(candidates, key=lambda c: c[0])
        if pick is not None and score > 0:  # it explains this box's issue, if any
            used[pick] = True
        issues.append(Issue(result.image_id, kind, class_name(names, label),
                            class_name(names, classes[pick]) if kind == SWAP else "",
                            _xyxy(label_box), None if pick is None else _xyxy(boxes[pick]),
                            float(score)))
    overlapping = (overlaps >= APART_IOU).any(axis=0)  # none when there is no label box
    for pick in np.flatnonzero(~used & ~overlapping):
        issues.append(Issue(result.image_id, OVERLOOKED, "", class_name(names, classes[pick]),
                            None, _xyxy(boxes[pick]), float(claim[pick])))
    issues.sort(key=lambda issue: -issue.score)
    worst = issues[0].score if issues else 0.0
    return PictureIssues(result.image_id, worst, issues)


def rank(results: Sequence[ImageResult], names: Mapping[int, str]) -> list[PictureIssues]:
    """Pictures, most likely mislabeled first (ties: by name, for a stable order)."""
    typical, precision = typical_confidence(results), Precision(results)
    ranked = [picture_issues(result, typical, precision, names) for result in results]
    ranked.sort(key=lambda p: (-p.score, p.picture))
    return ranked
