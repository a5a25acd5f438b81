"""The stratified split on an imbalanced multi-label set, and the tfrecord command's
log lines and timing record."""
from __future__ import annotations

import json
import random

from odhelper.data.split import TRAIN, VALIDATE, Unit, split_units


def _imbalanced_units(seed: int = 0) -> list[Unit]:
    """400 pictures: common classes, rare ones (2-3 pictures), multi-label pictures, twins."""
    rng = random.Random(seed)
    units = []
    for number in range(400):
        names = [rng.choices(["person", "car", "dog"], weights=[6, 3, 1])[0]]
        if number % 7 == 0:
            names.append(rng.choice(["car", "bicycle"]))
        units.append(Unit(f"u{number:03d}", 2 if number % 50 == 0 else 1,
                          {n: 1 for n in names}, {n: rng.randint(1, 4) for n in names}))
    for name, count in (("zebra", 2), ("kite", 3), ("boat", 1)):
        for number in range(count):
            units.append(Unit(f"{name}{number}", 1, {name: 1, "person": 1},
                              {name: 1, "person": 2}))
    return units


def _counts(units, sides, key):
    totals: dict[str, dict[str, int]] = {}
    for unit in units:
        for name, count in getattr(unit, key).items():
            side = totals.setdefault(name, {TRAIN: 0, VALIDATE: 0})
            side[sides[unit.key]] += count
    return totals


def test_rare_classes_get_validation_and_shares_stay_near_the_ratio():
    units = _imbalanced_units()
    sides = split_units(units, 0.2, seed=3)
    assert set(sides) == {u.key for u in units}
    images = _counts(units, sides, "class_images")
    for name in ("zebra", "kite"):  # >= 2 pictures: one validates, the rest train
        assert images[name][VALIDATE] >= 1 and images[name][TRAIN] >= 1, (name, images[name])
    assert images["boat"][TRAIN] == 1  # a single picture trains
    for name, side in images.items():
        total = side[TRAIN] + side[VALIDATE]
        if total >= 10:  # per class within one image (or 2 %) of the 20 % target
            assert abs(side[VALIDATE] - 0.2 * total) <= max(1.0, 0.02 * total), (name, side)
    boxes = _counts(units, sides, "class_boxes")
    for name in ("person", "car", "dog"):
        share = boxes[name][VALIDATE] / (boxes[name][TRAIN] + boxes[name][VALIDATE])
        assert 0.15 <= share <= 0.25, (name, boxes[name])


def test_same_split_whatever_the_order():
    units = _imbalanced_units()
    shuffled = list(units)
    random.Random(9).shuffle(shuffled)
    assert split_units(units, 0.1, seed=1) == split_units(shuffled, 0.1, seed=1)
    assert split_units(units, 0.1, seed=1) != split_units(units, 0.1, seed=2)


def test_tfrecord_command_logs_stage_table_and_json(tmp_path):
    from PIL import Image

    from odhelper.cli import main
    from odhelper.data.annotation import Annotation, Box, write_xml

    source = tmp_path / "in"
    source.mkdir()
    for number in range(6):
        name = "cat" if number % 2 else "dog"
        Image.new("RGB", (64, 48), (number * 40, 90, 120)).save(source / f"p{number}.jpg")
        write_xml(Annotation(f"p{number}.jpg", 64, 48, boxes=[Box(name, 5, 5, 40, 30)]),
                  source / f"p{number}.xml")
    output = tmp_path / "out"
    assert main(["tfrecord", "-i", str(source), "-o", str(output), "-sr", "5",
                 "--no-copy-label-map"]) == 0
    log_text = (output / "odhelper.log").read_text()
    assert "TF Record Generator start" in log_text
    assert "TF Record Generator Success [ Total conversion time : 0 Hour 0 Minute" in log_text
    table = log_text[log_text.index("ID"):]
    assert "NAME" in table and "Train" in table and "Validate" in table
    assert "cat" in table and "dog" in table
    records = [json.loads(line) for line in (output / "timings.jsonl").read_text().splitlines()]
    stage = [r for r in records if r["stage"] == "TF Record Generator"][-1]
    assert stage["status"] == "success" and stage["seconds"] >= 0
