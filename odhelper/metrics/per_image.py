"""The hand check, done automatically: one letter per picture.

For up to N validation pictures per class (pictures holding a box of the class,
in evaluation order), look at the detections scoring >= the threshold, leaving
out those that rightly find another object of the picture (right class, IoU >=
0.5 with its box):
    N  none is left: nothing was detected for this object
    T  the best-scoring one on a box of the class (IoU >= 0.5) has the right class
    F  otherwise: a wrong class on the object, or a detection in the wrong place
As in the talk that presented the original helper tool: 12 dogs, 8 predicted, 5 of them right -> 5 T, 3 F, 4 N.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from odhelper.metrics.matching import MATCH_IOU, ImageResult, iou

LETTERS = ("T", "F", "N")


@dataclass
class LetterRow:
    name: str
    images: list[str] = field(default_factory=list)
    letters: list[str] = field(default_factory=list)

    def count(self, letter: str) -> int:
        return self.letters.count(letter)


def letter_for(result: ImageResult, class_id: int, threshold: float = 0.5) -> str:
    """T, F or N for class `class_id` in one picture (see the module doc)."""
    found = result.detections.above(threshold)
    of_class = result.gt_classes == class_id
    if not len(found) or not of_class.any():
        return "N"
    overlaps = iou(found.yxyx, result.gt_boxes) >= MATCH_IOU  # [detections, truths]
    finds_other = (overlaps & ~of_class[None, :]
                   & (found.classes[:, None] == result.gt_classes[None, :])).any(axis=1)
    on_object = overlaps[:, of_class].any(axis=1) & ~finds_other
    if not (~finds_other).any():
        return "N"
    if not on_object.any():
        return "F"
    candidates = np.flatnonzero(on_object)
    best = candidates[np.argmax(found.scores[candidates])]
    return "T" if found.classes[best] == class_id else "F"


def letter_table(results: Sequence[ImageResult], categories: Sequence[dict], limit: int,
                 threshold: float = 0.5) -> list[LetterRow]:
    """One row per category with up to `limit` letters."""
    rows = []
    for category in categories:
        row = LetterRow(category["name"])
        for result in results:
            if len(row.letters) >= limit:
                break
            if np.any(result.gt_classes == category["id"]):
                row.images.append(result.image_id)
                row.letters.append(letter_for(result, category["id"], threshold))
        rows.append(row)
    return rows


def totals(rows: Sequence[LetterRow]) -> dict[str, int]:
    return {letter: sum(row.count(letter) for row in rows) for letter in LETTERS}
