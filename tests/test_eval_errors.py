"""Error analysis against numbers worked out by hand: the confusion matrix, every
false-positive kind, the threshold curves and the operating points.

Hand-built pictures (100 x 100, boxes ymin, xmin, ymax, xmax), classes cat=1, dog=2:
  A  cat (0,0,50,50), dog (50,50,100,100)
     cat 0.9 on the cat            -> TP
     cat 0.8 (0,0,48,50)           -> duplicate (IoU .96 with the taken cat)
     cat 0.7 on the dog            -> wrong class (true dog)
     dog 0.6 (50,50,70,100)        -> localisation (IoU .4 with the dog); the dog is missed
  B  dog (10,10,60,60)
     dog 0.95 on it                -> TP
     cat 0.4 (70,70,90,90)         -> background
     dog 0.2 (80,0,100,20)         -> below the 0.3 threshold (background on the curve)
  C  cat (20,20,80,80), nothing detected -> missed
  D  cat (0,0,40,40), cat 0.5 on it -> TP
"""
import math

import numpy as np
import pytest

from odhelper.detections import Detections
from odhelper.metrics import errors
from odhelper.metrics.matching import ImageResult
from odhelper.metrics.per_class import PASCAL_CLASS, class_table, od_api_metrics

CAT, DOG = 1, 2
CATEGORIES = [{"id": CAT, "name": "cat"}, {"id": DOG, "name": "dog"}]
THRESHOLD = 0.3


def pictures():
    return [
        ImageResult("A", 100, 100, [(0, 0, 50, 50), (50, 50, 100, 100)], [CAT, DOG],
                    Detections([(0, 0, 50, 50), (0, 0, 48, 50), (50, 50, 100, 100),
                                (50, 50, 70, 100)], [0.9, 0.8, 0.7, 0.6], [CAT, CAT, CAT, DOG])),
        ImageResult("B", 100, 100, [(10, 10, 60, 60)], [DOG],
                    Detections([(10, 10, 60, 60), (70, 70, 90, 90), (80, 0, 100, 20)],
                               [0.95, 0.4, 0.2], [DOG, CAT, DOG])),
        ImageResult("C", 100, 100, [(20, 20, 80, 80)], [CAT]),
        ImageResult("D", 100, 100, [(0, 0, 40, 40)], [CAT],
                    Detections([(0, 0, 40, 40)], [0.5], [CAT])),
    ]


def test_confusion_matrix_by_hand():
    found = errors.analyse(pictures(), CATEGORIES, THRESHOLD)
    # rows: true cat, dog, background; columns: predicted cat, dog, background
    assert found.matrix.tolist() == [[2, 0, 1],
                                     [1, 1, 1],
                                     [2, 1, 0]]


def test_every_false_positive_kind_by_hand():
    found = errors.analyse(pictures(), CATEGORIES, THRESHOLD)
    cat, dog, overall = found.classes
    assert (cat.boxes, cat.tp, cat.fn) == (3, 2, 1)
    assert cat.fp == {"wrong_class": 1, "localisation": 0, "duplicate": 1, "background": 1}
    assert (dog.boxes, dog.tp, dog.fn) == (2, 1, 1)
    assert dog.fp == {"wrong_class": 0, "localisation": 1, "duplicate": 0, "background": 0}
    assert (overall.boxes, overall.tp, overall.fn, overall.fp_total) == (5, 3, 2, 4)
    assert cat.precision == pytest.approx(2 / 5) and cat.recall == pytest.approx(2 / 3)
    assert cat.f1 == pytest.approx(0.5)
    kinds = {(d.image, d.index): (d.kind, d.true_class) for d in found.detections}
    assert kinds[(0, 2)] == ("wrong_class", DOG)
    assert (1, 2) not in kinds  # below the threshold
    assert [(m.image, m.index) for m in found.worst_misses(CAT, 5)] == [(2, 0)]
    # highest score first, each picture once before any picture twice (a gallery of pictures)
    assert [(d.image, d.index) for d in found.worst_false_positives(CAT, 2)] == [(0, 1), (1, 1)]
    assert [(d.image, d.index) for d in found.worst_false_positives(CAT, 3)] == \
        [(0, 1), (1, 1), (0, 2)]


def test_same_matching_as_the_per_class_table():
    found = errors.analyse(pictures(), CATEGORIES, THRESHOLD)
    rows = class_table(pictures(), CATEGORIES, THRESHOLD, metrics={})
    for mine, theirs in zip(found.classes, rows):
        assert (mine.tp, mine.tp + mine.fp_total, mine.boxes) == \
            (theirs.correct, theirs.detections, theirs.boxes)


def test_threshold_curves_by_hand():
    cat, dog = errors.curves(pictures(), CATEGORIES)
    assert cat.thresholds.tolist() == pytest.approx([0.9, 0.8, 0.7, 0.5, 0.4])
    assert cat.tp.tolist() == [1, 1, 1, 2, 2] and cat.fp.tolist() == [0, 1, 2, 2, 3]
    assert cat.precision.tolist() == pytest.approx([1, 1 / 2, 1 / 3, 1 / 2, 2 / 5])
    assert cat.recall.tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert cat.f1.tolist() == pytest.approx([1 / 2, 2 / 5, 1 / 3, 4 / 7, 1 / 2])
    assert dog.thresholds.tolist() == pytest.approx([0.95, 0.6, 0.2])
    assert dog.fn.tolist() == [1, 1, 1]
    assert errors.average_precision(cat) == pytest.approx(1 / 3 + 1 / 3 * 0.5)
    assert errors.average_precision(dog) == pytest.approx(0.5)


def test_curve_ap_is_the_od_api_pascal_ap():
    metrics = od_api_metrics(pictures(), CATEGORIES)
    for curve in errors.curves(pictures(), CATEGORIES):
        assert errors.average_precision(curve) == pytest.approx(
            metrics[PASCAL_CLASS.format(curve.name)], abs=1e-6)


def test_operating_points_by_hand():
    cat, dog = errors.curves(pictures(), CATEGORIES)
    best = errors.operating_point(cat)
    assert (best.threshold, best.precision, best.recall, best.f1, best.rule, best.met) == \
        (pytest.approx(0.5), 0.5, pytest.approx(2 / 3), pytest.approx(4 / 7), "max F1", True)
    strict = errors.operating_point(cat, target_precision=0.9)
    assert (strict.threshold, strict.precision, strict.recall) == \
        (pytest.approx(0.9), 1.0, pytest.approx(1 / 3))
    assert errors.operating_point(cat, target_precision=0.5).threshold == pytest.approx(0.5)
    assert errors.operating_point(cat, target_recall=1 / 3).threshold == pytest.approx(0.9)
    missed = errors.operating_point(dog, target_recall=0.9)
    assert (missed.met, missed.threshold, missed.rule) == (
        False, pytest.approx(0.95), "recall >= 0.9 not reached: max F1")
    empty = errors.operating_point(errors.curves([pictures()[2]], CATEGORIES)[1])
    assert empty.threshold == 0.5 and not empty.met and math.isnan(empty.precision)
    assert np.isnan(errors.ClassErrors("x").precision)
