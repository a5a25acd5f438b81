"""Adoption rule, pool scanning, resumable state and the original helper tool's round table."""
from __future__ import annotations

import pytest
from PIL import Image

from odhelper.active import adopt as adoption
from odhelper.active.pool import PoolImage, scan_pool
from odhelper.active.state import ActiveState, RoundRecord
from odhelper.active.table import adoption_table
from odhelper.detections import Detections, Prediction
from odhelper.errors import OdhelperError


NAMES = {1: "cat", 2: "dog"}


def _found(*detections):
    """A 100 x 80 picture's prediction from (name, score[, (xmin, ymin, xmax, ymax)])."""
    ids = {name: number for number, name in NAMES.items()}
    boxes = [d[2] if len(d) > 2 else (10, 10, 50, 50) for d in detections]
    return Prediction("a.jpg", 100, 80, Detections.from_xyxy(
        boxes, [d[1] for d in detections], [ids[d[0]] for d in detections]))


def test_adopts_only_when_best_detection_has_the_picture_class(tmp_path):
    image = PoolImage(tmp_path / "dog" / "a.jpg", "dog")

    def adopt(*detections, **rule):
        return adoption.adopt(image, _found(*detections), NAMES, **{
            "threshold": 0.8, "round_number": 1, **rule})

    assert adopt() is None
    assert adopt(("cat", 0.95), ("dog", 0.9)) is None
    assert adopt(("dog", 0.79)) is None
    candidate = adopt(("dog", 0.97), ("dog", 0.85, (60, 5, 90, 70)), ("dog", 0.5),
                      ("cat", 0.9), round_number=3)
    boxes = candidate.annotation.boxes
    assert [(b.name, round(b.score, 6)) for b in boxes] == [("dog", 0.97), ("dog", 0.85)]
    assert (boxes[1].xmin, boxes[1].ymin, boxes[1].xmax, boxes[1].ymax) == (60, 5, 90, 70)
    assert candidate.annotation.verified is False
    assert candidate.annotation.source == "odhelper active-learn round 3"
    assert (candidate.annotation.width, candidate.annotation.height) == (100, 80)
    lower = adopt(("dog", 0.97), ("dog", 0.6), ("dog", 0.4), ("cat", 0.7), box_threshold=0.5)
    assert [round(b.score, 6) for b in lower.annotation.boxes] == [0.97, 0.6]
    assert adopt(("dog", 0.7), box_threshold=0.5) is None


def test_scan_pool_reads_class_folders_and_rejects_unknown(tmp_path):
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / name / f"{name}1.JPG")
    (tmp_path / "dog" / "notes.txt").write_text("x")
    (tmp_path / "dog" / "more").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "dog" / "more" / "dog2.jpg")
    Image.new("RGB", (8, 8)).save(tmp_path / "dog" / "more" / "dog1.JPG")  # same key: skipped
    images = scan_pool(tmp_path, ["cat", "dog"])
    assert [i.key for i in images] == ["cat/cat1.JPG", "dog/dog1.JPG", "dog/dog2.jpg"]
    assert images[1].path == tmp_path / "dog" / "dog1.JPG"
    with pytest.raises(OdhelperError, match="not in the label map: dog"):
        scan_pool(tmp_path, ["cat"])


def test_state_round_trips_and_table_counts(tmp_path):
    state = ActiveState(classes=["cat", "dog"], boxed_train_images=10)
    state.rounds.append(RoundRecord(0, 100, metrics={"mAP@0.5": 0.5}))
    state.rounds.append(RoundRecord(1, 200, adopted={"cat": ["cat/a", "cat/b"], "dog": ["dog/c"]}))
    state.rounds.append(RoundRecord(2, 300, adopted={"dog": ["dog/d"]}))
    state.save(tmp_path / "active.json")
    loaded = ActiveState.load(tmp_path / "active.json")
    assert loaded == state
    assert loaded.adopted_keys() == {"cat/a", "cat/b", "dog/c", "dog/d"}
    assert loaded.next_round() == 3
    lines = adoption_table(loaded)
    assert lines[0].split() == ["ID", "NAME", "1", "step", "2", "step"]
    assert lines[1].split() == ["1", "cat", "2", "0"]
    assert lines[2].split() == ["2", "dog", "1", "1"]
    assert lines[3].split() == ["Total", "3", "1"]
    assert lines[4].split() == ["Train", "images", "13", "14"]
    assert lines[5].split() == ["Increase", "+30.0%", "+7.7%"]
