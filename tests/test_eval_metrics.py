"""Per-class and per-image tables against hand-computed numbers.

The scores go through the OD API's own Pascal VOC and COCO evaluators.
"""
import math

import numpy as np
import pytest

from odhelper.detections import Detections
from odhelper.metrics import ImageResult, iou, match_detections
from odhelper.metrics.per_class import class_table
from odhelper.metrics.per_image import letter_for, letter_table, totals
from odhelper.metrics.tables import (CLASS_CSV, CLASS_HEADERS, read_class_csv,
                                     save_class_table, save_letter_table)

CATEGORIES = [{"id": 1, "name": "dog"}, {"id": 2, "name": "cat"}]
DOG, CAT = 1, 2
BOX = (20.0, 20.0, 60.0, 60.0)  # the dog in every picture (ymin, xmin, ymax, xmax)
ELSEWHERE = (70.0, 70.0, 95.0, 95.0)  # no overlap with BOX


def twelve_dogs():
    """The example of the talk that presented the original helper tool: 12 dogs, 8 predicted above 0.5, 5 of them right.

    Ranked by score the 8 are T T F T T F F T; a 9th wrong one scores 0.3.
    """
    pattern = "TTFTTFFT"
    scores = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6]
    results = [ImageResult(f"img{i:02d}", 100, 100, [BOX], [DOG]) for i in range(12)]
    for index, (letter, score) in enumerate(zip(pattern, scores)):
        results[index].detections = Detections([BOX if letter == "T" else ELSEWHERE], [score],
                                                [DOG])
    results[9].detections = Detections([ELSEWHERE], [0.3], [DOG])
    return results


def test_iou_by_hand():
    assert iou([(0, 0, 10, 10)], [(0, 5, 10, 15)])[0, 0] == pytest.approx(1 / 3)
    assert iou([(0, 0, 10, 10)], [(0, 0, 10, 6.4)])[0, 0] == pytest.approx(0.64)
    assert iou([(0, 0, 10, 10)], [(20, 20, 30, 30)])[0, 0] == 0.0
    assert iou([(0, 0, 10, 10)], [(0, 0, 10, 10)])[0, 0] == pytest.approx(1.0)


def test_greedy_matching_counts_a_box_once():
    result = ImageResult("a", 100, 100, [BOX], [DOG],
                         Detections([BOX, BOX], [0.9, 0.8], [DOG, DOG]))
    assert match_detections(result, DOG).tolist() == [True, False]


def test_twelve_dogs_precision_recall_and_ap():
    rows = {row.name: row for row in class_table(twelve_dogs(), CATEGORIES, threshold=0.5)}
    dog = rows["dog"]
    assert (dog.images, dog.boxes, dog.detections, dog.correct) == (12, 12, 8, 5)
    assert dog.precision == pytest.approx(0.625)
    assert dog.recall == pytest.approx(0.4167, abs=1e-4)
    # Pascal VOC: interpolated precision at the 5 hits is 1, 1, .8, .8, .625
    assert dog.ap_voc == pytest.approx((1 + 1 + 0.8 + 0.8 + 0.625) / 12, abs=1e-6)
    # COCO 101-point: recall <= 2/12 -> 1.0 (17 points), <= 4/12 -> 0.8 (17), <= 5/12 -> .625 (8)
    coco = (17 * 1.0 + 17 * 0.8 + 8 * 0.625) / 101
    assert dog.ap50 == pytest.approx(coco, abs=1e-6)
    assert dog.coco_ap == pytest.approx(coco, abs=1e-6)  # exact boxes: same at every IoU
    assert dog.ar100 == pytest.approx(5 / 12, abs=1e-6)
    assert rows["cat"].boxes == 0 and math.isnan(rows["cat"].ap_voc)
    overall = rows["all"]
    assert (overall.boxes, overall.detections, overall.correct) == (12, 8, 5)
    assert overall.ap_voc == pytest.approx(dog.ap_voc, abs=1e-6)  # only dog has boxes
    assert overall.coco_ap == pytest.approx(dog.coco_ap, abs=1e-6)


def test_loose_box_counts_only_at_low_iou():
    """IoU 0.64: a hit at COCO thresholds .50/.55/.60 only -> AP 3/10, AP50 1."""
    result = ImageResult("a", 100, 100, [(0, 0, 10, 10)], [CAT],
                         Detections([(0, 0, 10, 6.4)], [0.9], [CAT]))
    cat = {row.name: row for row in class_table([result], CATEGORIES)}["cat"]
    assert cat.ap_voc == pytest.approx(1.0)
    assert cat.ap50 == pytest.approx(1.0)
    assert cat.coco_ap == pytest.approx(0.3, abs=1e-6)
    assert cat.ar100 == pytest.approx(0.3, abs=1e-6)


def test_letters_true_false_nothing():
    right = ImageResult("t", 100, 100, [BOX], [DOG], Detections([BOX], [0.9], [DOG]))
    wrong = ImageResult("f", 100, 100, [BOX], [DOG],
                        Detections([BOX, BOX], [0.9, 0.6], [CAT, DOG]))
    weak = ImageResult("n1", 100, 100, [BOX], [DOG], Detections([BOX], [0.4], [DOG]))
    away = ImageResult("f2", 100, 100, [BOX], [DOG], Detections([ELSEWHERE], [0.9], [DOG]))
    assert [letter_for(r, DOG) for r in (right, wrong, weak, away)] == ["T", "F", "N", "F"]
    assert letter_for(weak, DOG, threshold=0.3) == "T"
    # a cat rightly found elsewhere in the picture says nothing about the dog
    cat_found = ImageResult("n2", 100, 100, [BOX, ELSEWHERE], [DOG, CAT],
                            Detections([ELSEWHERE], [0.9], [CAT]))
    assert letter_for(cat_found, DOG) == "N" and letter_for(cat_found, CAT) == "T"


def test_letter_table_limits_and_totals(tmp_path):
    rows = letter_table(twelve_dogs(), CATEGORIES, limit=10)
    dog = rows[0]
    assert dog.letters == list("TTFTTFFTNN")  # the original helper tool's 5 right, 3 wrong of 8 predicted
    assert len(rows[1].letters) == 0
    assert totals(rows) == {"T": 5, "F": 3, "N": 2}
    paths = save_letter_table(rows, tmp_path)
    assert "| total |  | 5 | 3 | 2 |" in paths[1].read_text()
    assert totals(letter_table(twelve_dogs(), CATEGORIES, limit=12)) == {"T": 5, "F": 3, "N": 4}


def test_tables_written_as_csv_and_markdown(tmp_path):
    rows = class_table(twelve_dogs(), CATEGORIES)
    csv_path, md_path = save_class_table(rows, tmp_path)
    assert csv_path.name == CLASS_CSV
    table = read_class_csv(csv_path)
    assert [r["class"] for r in table] == ["dog", "cat", "all"]
    assert table[0]["precision"] == "0.6250" and table[0]["recall"] == "0.4167"
    assert md_path.read_text().startswith("| " + " | ".join(CLASS_HEADERS))
