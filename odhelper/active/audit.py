"""How right were the adoptions? Compare adopted XMLs with truth XMLs of the same
pictures (TRUTH/<class>/<stem>.xml, e.g. the demo's pool_truth/): box precision and
recall at IoU >= 0.5, and the share of pictures whose boxes are all right."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from odhelper.data import voc
from odhelper.metrics.matching import iou

IOU = 0.5


@dataclass
class Audit:
    pictures: int = 0
    pictures_all_right: int = 0
    adopted_boxes: int = 0
    right_boxes: int = 0  # adopted boxes matching a distinct true box of their class
    true_boxes: int = 0  # true boxes in the adopted pictures

    @property
    def box_precision(self) -> float:
        return self.right_boxes / self.adopted_boxes if self.adopted_boxes else 0.0

    @property
    def box_recall(self) -> float:
        return self.right_boxes / self.true_boxes if self.true_boxes else 0.0

    @property
    def picture_precision(self) -> float:
        return self.pictures_all_right / self.pictures if self.pictures else 0.0

    def to_dict(self) -> dict:
        return {"pictures": self.pictures, "box_precision": round(self.box_precision, 4),
                "box_recall": round(self.box_recall, 4),
                "picture_precision": round(self.picture_precision, 4)}


def _boxes(xml: Path) -> tuple[list[str], np.ndarray]:
    annotation, _, _ = voc.parse(xml.read_bytes(), str(xml))
    names = [b.name for b in annotation.boxes]
    coords = np.array([[b.xmin, b.ymin, b.xmax, b.ymax] for b in annotation.boxes],
                      np.float32).reshape(-1, 4)
    return names, coords


def _right(adopted: tuple, truth: tuple) -> int:
    """Greedy one-to-one matches, best IoU first, same class, IoU >= 0.5."""
    (a_names, a_boxes), (t_names, t_boxes) = adopted, truth
    if not len(a_boxes) or not len(t_boxes):
        return 0
    overlaps = iou(a_boxes, t_boxes)
    same = np.array([[a == t for t in t_names] for a in a_names])
    overlaps = np.where(same, overlaps, 0.0)
    matched = 0
    while overlaps.size and overlaps.max() >= IOU:
        i, j = np.unravel_index(np.argmax(overlaps), overlaps.shape)
        overlaps[i, :], overlaps[:, j] = 0.0, 0.0
        matched += 1
    return matched


def audit(adopted_xmls: list[Path], truth_dir: Path) -> Audit:
    """Audit adopted XMLs (ADOPTED/<class>/<stem>.xml) against TRUTH/<class>/<stem>.xml."""
    result = Audit()
    for xml in adopted_xmls:
        truth_xml = Path(truth_dir) / xml.parent.name / xml.name
        adopted, truth = _boxes(xml), _boxes(truth_xml)
        right = _right(adopted, truth)
        result.pictures += 1
        result.adopted_boxes += len(adopted[0])
        result.true_boxes += len(truth[0])
        result.right_boxes += right
        result.pictures_all_right += int(right == len(adopted[0]) == len(truth[0]))
    return result
