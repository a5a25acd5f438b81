"""The label-issue scores on hand-made pictures (no model), the data-health page's
flags, and the folds of the split: what `odhelper audit` builds on."""
from __future__ import annotations

import pytest

from odhelper.data import health, split
from odhelper.detections import Detections
from odhelper.metrics import label_issues as li
from odhelper.metrics.matching import ImageResult

NAMES = {1: "cat", 2: "dog"}
CAT = [100, 100, 200, 200]  # ymin, xmin, ymax, xmax in pixels
DOG = [300, 300, 400, 420]


def _picture(name, truth, found):
    """truth: [(box, class)], found: [(box, class, score)]."""
    return ImageResult(name, 640, 480, [b for b, _ in truth], [c for _, c in truth],
                       Detections([b for b, _, _ in found], [s for _, _, s in found],
                                  [c for _, c, _ in found]))


def _clean(name):
    return _picture(name, [(CAT, 1), (DOG, 2)], [(CAT, 1, 0.6), (DOG, 2, 0.5)])


def test_each_kind_of_corruption_is_named_and_ranked_above_clean_pictures():
    results = [_clean(f"clean-{i}.jpg") for i in range(6)] + [
        _picture("swap.jpg", [(CAT, 2), (DOG, 2)], [(CAT, 1, 0.7), (DOG, 2, 0.5)]),
        _picture("moved.jpg", [([160, 160, 260, 260], 1), (DOG, 2)],
                 [(CAT, 1, 0.6), (DOG, 2, 0.5)]),
        _picture("forgot.jpg", [(DOG, 2)], [(CAT, 1, 0.6), (DOG, 2, 0.5)]),
        _picture("ghost.jpg", [(CAT, 1), (DOG, 2), ([10, 500, 60, 600], 2)],
                 [(CAT, 1, 0.6), (DOG, 2, 0.5)]),
    ]
    ranked = li.rank(results, NAMES)
    top = {p.picture: p.issues[0] for p in ranked[:4]}
    assert set(top) == {"swap.jpg", "moved.jpg", "forgot.jpg", "ghost.jpg"}
    assert (top["swap.jpg"].kind, top["swap.jpg"].class_name, top["swap.jpg"].suggested) == \
        (li.SWAP, "dog", "cat")
    assert top["moved.jpg"].kind == li.LOCATION
    assert top["moved.jpg"].model_box == (100.0, 100.0, 200.0, 200.0)  # xmin, ymin, ...
    assert (top["forgot.jpg"].kind, top["forgot.jpg"].suggested) == (li.OVERLOOKED, "cat")
    assert top["ghost.jpg"].kind == li.SPURIOUS
    assert top["ghost.jpg"].label_box == (500.0, 10.0, 600.0, 60.0)
    assert all(p.score < 0.5 for p in ranked[4:])  # the clean ones


def test_scores_are_relative_to_the_models_usual_confidence_and_capped_by_its_precision():
    """A weak model (right answers at 0.2) calls a forgotten object at 0.2 as sure an
    overlooked one as a strong model (right answers at 0.9) one at 0.9; a weak model's
    background detections, at scores where it is mostly wrong, count for little."""
    sure = []
    for usual in (0.2, 0.9):
        found = [_picture(f"w{i}.jpg", [(CAT, 1)], [(CAT, 1, usual)]) for i in range(5)]
        found.append(_picture("forgot.jpg", [], [(CAT, 1, usual)]))
        ranked = li.rank(found, NAMES)
        assert ranked[0].picture == "forgot.jpg"
        assert all(p.score == 0.0 for p in ranked[1:])
        sure.append(ranked[0].score)
    assert sure == pytest.approx([0.5, 0.5])  # the usual score; its precision is 6/8
    noisy = [_picture(f"n{i}.jpg", [(CAT, 1)], [(CAT, 1, 0.3), (DOG, 1, 0.3),
                                                  ([10, 500, 60, 600], 1, 0.3)])
             for i in range(5)]  # a right detection, and two on the background
    noisy.append(_picture("forgot.jpg", [(DOG, 2)], [(CAT, 1, 0.3), (DOG, 2, 0.6)]))
    ranked = li.rank(noisy, NAMES)
    assert ranked[0].picture == "forgot.jpg" and ranked[0].issues[0].kind == li.OVERLOOKED
    assert ranked[0].score == pytest.approx(1 / 3)  # (5 of 16 on a box + 1) / (16 + 2), not 0.5


def test_a_swap_joins_its_claim_and_its_doubt_as_one_error_not_two():
    """The model calls the dog-labelled box a cat at its usual score (claim 0.5) and finds
    a dog there at a quarter of a dog's usual score (support 0.4, doubt 0.6): the swap
    scores their geometric mean, and ranks above an overlooked cat claimed at 0.5; a
    product (0.3) would rank a half-doubted swap below every sure single claim."""
    results = [_clean(f"clean-{i}.jpg") for i in range(6)] + [
        _picture("swap.jpg", [(CAT, 2), (DOG, 2)], [(CAT, 1, 0.6), (CAT, 2, 0.125),
                                                     (DOG, 2, 0.5)]),
        _picture("forgot.jpg", [(DOG, 2)], [(CAT, 1, 0.6), (DOG, 2, 0.5)])]
    ranked = li.rank(results, NAMES)
    assert [p.picture for p in ranked[:2]] == ["swap.jpg", "forgot.jpg"]
    assert (ranked[0].issues[0].kind, ranked[0].issues[0].suggested) == (li.SWAP, "cat")
    assert ranked[0].score == pytest.approx((0.5 * 0.6) ** 0.5)
    assert ranked[1].score == pytest.approx(0.5)


def test_an_unboxed_object_overlapping_a_boxed_one_is_overlooked_but_a_part_of_it_is_not():
    """Fanned cards: the forgotten card's detection overlaps its boxed neighbour (IoU
    0.11) and still ranks as overlooked; a detection of the boxed card's left part (IoU
    0.4 with its box) is the model's noise, not another object."""
    beside = [100, 180, 200, 280]  # CAT shifted right by 80 of its 100 px
    half = [100, 100, 200, 140]
    results = [_clean(f"clean-{i}.jpg") for i in range(6)] + [
        _picture("fanned.jpg", [(CAT, 1), (DOG, 2)], [(CAT, 1, 0.6), (beside, 1, 0.6),
                                                       (DOG, 2, 0.5)]),
        _picture("part.jpg", [(CAT, 1), (DOG, 2)], [(CAT, 1, 0.6), (half, 1, 0.6),
                                                     (DOG, 2, 0.5)])]
    ranked = li.rank(results, NAMES)
    assert ranked[0].picture == "fanned.jpg"
    assert (ranked[0].issues[0].kind, ranked[0].issues[0].suggested) == (li.OVERLOOKED, "cat")
    part = next(p for p in ranked if p.picture == "part.jpg")
    assert li.OVERLOOKED not in {issue.kind for issue in part.issues}


def test_data_health_flags_small_classes_with_the_size_that_keeps_them():
    content = {"classes": [{"name": "cell", "train_images": 40, "validate_images": 3},
                           {"name": "dish", "train_images": 40, "validate_images": 9}],
               "box_stats": {"classes": {
                   "cell": {"boxes": 300, "width": [0.03, 0.047, 0.06],
                            "height": [0.03, 0.05, 0.07], "width_px": [20, 30, 40],
                            "height_px": [15, 24, 33], "aspect": [0.8, 1.0, 1.3]},
                   "dish": {"boxes": 40, "width": [0.5, 0.6, 0.7], "height": [0.5, 0.6, 0.7],
                            "width_px": [300, 380, 450], "height_px": [240, 290, 330],
                            "aspect": [1.0, 1.1, 1.2]}}}}
    pictures = [{"split": "train", "path": f"p{i}.jpg", "boxes": 3} for i in range(40)]
    pictures.append({"split": "train", "path": "crowd.jpg", "boxes": 60})
    found = health.check(content, pictures, 160)
    assert [c.name for c in found.too_small] == ["cell"]
    assert found.too_small[0].needed_size == 512  # 24 px / 4.7 % -> 511 -> a multiple of 32
    assert found.few_to_validate == ["cell"]
    assert found.crowded == [("crowd.jpg", 60)]
    text = "\n".join(health.lines(found))
    assert "cell: median box keeps 8 px at 160 px input" in text and "512 px" in text


def test_folds_cover_every_unit_once_and_keep_each_class_in_each_fold():
    units = [split.Unit(f"u{i}", 1 + (i % 5 == 0), {"a": 1} if i % 3 else {"b": 1},
                        {"a": 1} if i % 3 else {"b": 1}) for i in range(31)]
    folds = [split.fold_sides(units, k, 3, seed=7) for k in (1, 2, 3)]
    held = [{key for key, side in sides.items() if side == split.VALIDATE} for sides in folds]
    assert sorted(k for fold in held for k in fold) == sorted(u.key for u in units)
    assert all(len(fold) in (10, 11) for fold in held)
    for fold in held:
        assert any(u.key in fold and "b" in u.class_images for u in units)
    assert folds[0] == split.fold_sides(units, 1, 3, seed=7)  # the same seed, the same folds


def test_a_dataset_is_audited_from_its_own_input_options(tmp_path):
    """`audit -d DATASET` makes its folds with the options the dataset was made with;
    a tiled dataset is refused, naming its input."""
    from data_support import options, shared_dataset
    from odhelper.data.build import build_dataset
    from odhelper.errors import OdhelperError
    from odhelper.options.audit import AuditOptions
    from odhelper.workflows.audit import _input_fields

    source = shared_dataset("playing_cards") / "images" / "test"
    made = options(source, tmp_path / "plain", skip_difficult=True)
    build_dataset(made)
    found = _input_fields(AuditOptions(dataset=tmp_path / "plain", output=tmp_path / "out"))
    assert found["skip_difficult"] is True and found["input"].resolve() == source.resolve()
    build_dataset(options(source, tmp_path / "tiled", tile=256))
    with pytest.raises(OdhelperError, match="cut into tiles.*-i"):
        _input_fields(AuditOptions(dataset=tmp_path / "tiled", output=tmp_path / "out"))


def test_the_folds_take_more_pixels_when_classes_must_be_told_apart():
    from odhelper.workflows.audit import fold_size

    def stats(*names, share=0.3):
        return {"classes": {name: {"boxes": 50, "width": [share] * 3, "height": [share] * 3}
                            for name in names}}

    assert fold_size(stats("raccoon", share=0.6), "ssd_mobilenet_v2_cpu", None)[:1] == (96,)
    size, reason, run = fold_size(stats("ace", "king"), "ssd_mobilenet_v2_cpu", None)
    assert (size, run) == (288, 160) and "2 classes" in reason
    size, reason, run = fold_size(stats("cell", "dish", share=0.05), "ssd_mobilenet_v2_cpu",
                                  None)
    assert (size, run) == (320, 320) and "capped" in reason  # the run's cap, 2x the template
    assert fold_size(stats("ace", "king"), "ssd_mobilenet_v2_cpu", 128) == (128, "--image-size",
                                                                          128)
