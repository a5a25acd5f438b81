"""The converter on the two real datasets, read back by the OD API's own decoder."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from odhelper.data.build import build_dataset, dataset_is_current
from data_support import (decode_records, options, shard_paths, shared_dataset,
                                xml_boxes)


@pytest.fixture(scope="module")
def raccoon(tmp_path_factory):
    source = shared_dataset("raccoon")
    output = tmp_path_factory.mktemp("raccoon") / "raccoon"
    opts = options(source, output)
    return source, output, opts, build_dataset(opts)


@pytest.fixture(scope="module")
def cards(tmp_path_factory):
    source = shared_dataset("playing_cards")
    output = tmp_path_factory.mktemp("cards") / "cards"
    opts = options(source / "images", output, split_ratio=8)
    return source, output, opts, build_dataset(opts)


def _check_class_shares(content: dict) -> None:
    fraction = 1 - content["ratio"]
    for row in content["classes"]:
        total = row["train_images"] + row["validate_images"]
        assert abs(row["validate_images"] - fraction * total) <= 1.0, row
        if total >= 2:
            assert row["validate_images"] >= 1 and row["train_images"] >= 1


def test_raccoon_counts_twins_and_split(raccoon):
    source, output, _, content = raccoon
    splits = content["splits"]
    assert splits["train"]["images"] + splits["validate"]["images"] == 200
    assert splits["train"]["boxes"] + splits["validate"]["boxes"] == 217
    assert [c["name"] for c in content["classes"]] == ["raccoon"]
    _check_class_shares(content)
    reasons = {}
    for item in content["problems"]:
        reasons.setdefault(item["reason"], set()).add(Path(item["file"]).stem)
    twins = [("raccoon-74", "raccoon-52"), ("raccoon-65", "raccoon-98"),
             ("raccoon-11", "raccoon-116"), ("raccoon-120", "raccoon-83")]
    assert reasons["identical_images"] == {name for pair in twins for name in pair}
    assert reasons["grayscale_image"] == {"raccoon-150", "raccoon-152", "raccoon-161"}
    assert set(reasons) == {"identical_images", "grayscale_image"}
    validate = set(pd.read_csv(output / "validate.csv")["path"])
    train = set(pd.read_csv(output / "train.csv")["path"])
    assert not validate & train and len(validate | train) == 200
    for first, second in twins:
        assert (f"images/{first}.jpg" in validate) == (f"images/{second}.jpg" in validate)


def test_raccoon_records_match_the_xml(raccoon):
    source, output, _, content = raccoon
    records = decode_records(shard_paths(output, content))
    assert len(records) == 200
    for record in records:
        width, height, boxes = xml_boxes(source / "annotations" /
                                         (Path(record["filename"]).stem + ".xml"))
        assert record["image"].shape == (height, width, 3)
        expected = np.array([[b[2] / height, b[1] / width, b[4] / height, b[3] / width]
                             for b in boxes], dtype=np.float32)
        np.testing.assert_allclose(record["boxes"], expected, atol=1e-6)
        assert list(record["classes"]) == [1] * len(boxes)


def test_records_carry_legacy_keys_and_same_boxes(raccoon):
    source, output, _, content = raccoon
    legacy = {r["filename"]: r for r in decode_records([source / "legacy" / "test.record"])}
    ours = {r["filename"]: r for r in decode_records(shard_paths(output, content))}
    legacy_keys = next(iter(legacy.values()))["keys"]
    assert legacy_keys <= next(iter(ours.values()))["keys"]
    assert len(legacy) == 40
    for name, old in legacy.items():
        new = ours[name]
        np.testing.assert_allclose(new["boxes"], old["boxes"], atol=1e-5)
        assert new["image"].shape == old["image"].shape
        assert list(new["classes"]) == list(old["classes"])


def test_dataset_json_contract_and_outputs(raccoon):
    _, output, opts, content = raccoon
    on_disk = json.loads((output / "dataset.json").read_text())
    assert on_disk == json.loads(json.dumps(content))
    for key in ("name", "seed", "ratio", "fingerprint", "classes", "splits", "problems"):
        assert key in on_disk
    assert on_disk["ratio"] == pytest.approx(0.9)
    for side in ("train", "validate"):
        assert on_disk["splits"][side]["shards"]
        for name in on_disk["splits"][side]["shards"]:
            assert (output / name).is_file() and name.startswith(f"{side}-")
    frame = pd.read_csv(output / "train.csv")
    assert list(frame.columns) == ["filename", "width", "height", "class",
                                   "xmin", "ymin", "xmax", "ymax", "path"]
    assert not frame["filename"].str.contains("/").any()  # the classic layout: bare names
    assert len(frame) == on_disk["splits"]["train"]["boxes"]
    assert dataset_is_current(opts)
    assert not dataset_is_current(options(opts.input, output, seed=opts.seed + 1))


def test_label_map_reads_with_the_od_api(raccoon):
    from odhelper.od import api

    _, output, _, _ = raccoon
    mapping = api().label_map_util.get_label_map_dict(str(output / "label_map.pbtxt"))
    assert mapping == {"raccoon": 1}


def test_playing_cards_nested_mixed_case(cards):
    source, output, _, content = cards
    splits = content["splits"]
    assert splits["train"]["images"] + splits["validate"]["images"] == 363
    assert splits["train"]["boxes"] + splits["validate"]["boxes"] == 670
    assert [c["name"] for c in content["classes"]] == ["ace", "jack", "king", "nine",
                                                       "queen", "ten"]
    totals = {c["name"]: c["train_boxes"] + c["validate_boxes"] for c in content["classes"]}
    assert totals == {"king": 118, "ace": 118, "nine": 115, "jack": 113, "queen": 106,
                      "ten": 100}
    assert content["problems"] == []
    _check_class_shares(content)
    records = decode_records(shard_paths(output, content, "validate"))
    assert len(records) == splits["validate"]["images"]
    label_of = {c["name"]: c["id"] for c in content["classes"]}
    for record in records:
        xml = (source / "images" / record["source_id"]).with_suffix(".xml")
        width, height, boxes = xml_boxes(xml)
        assert record["image"].shape == (height, width, 3)
        assert list(record["classes"]) == [label_of[b[0]] for b in boxes]
