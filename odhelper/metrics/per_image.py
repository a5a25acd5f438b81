"""The seed deck's hand check, done automatically: one letter per picture.

For up to N validation pictures per class (pictures holding a box of the class,
in evaluation order), look at the detections scoring >= the threshold that
overlap a box of the class at IoU >= 0.5, and take the best-scoring one:
    T  its class is right      F  its class is wrong      N  there is none
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
    kept = result.above(threshold)
    truth = kept.gt_boxes[kept.gt_classes == class_id]
    if not len(kept.det_boxes) or not len(truth):
        return "N"
    overlapping = iou(kept.det_boxes, truth).max(axis=1) >= MATCH_IOU
    if not overlapping.any():
        return "N"
    candidates = np.flatnonzero(overlapping)
    best = candidates[np.argmax(kept.det_scores[candidates])]
    return "T" if kept.det_classes[best] == class_id else "F"


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
