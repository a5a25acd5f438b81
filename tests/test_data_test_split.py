"""`-sr 8,1,1`: a test split with the validation split's guarantees (stratified by
picture, twins on one side, kept byte for byte by --keep-validate)."""
from __future__ import annotations

import csv
import shutil

import pytest

from data_support import options
from odhelper.data.build import build_dataset
from odhelper.data.split import TEST, TRAIN, VALIDATE, Unit, split_three
from odhelper.errors import UsageError
from odhelper.options.data import split_fractions
from run_support import make_pictures


def test_split_ratio_three_parts():
    assert split_fractions("8,1,1") == pytest.approx((0.8, 0.1, 0.1))
    assert split_fractions("0.7,0.2,0.1") == pytest.approx((0.7, 0.2, 0.1))
    assert split_fractions("9") == pytest.approx((0.9, 0.1, 0.0))
    assert split_fractions(0.85) == pytest.approx((0.85, 0.15, 0.0))
    for bad in ("8,2", "8,0,2", "x", "10"):
        with pytest.raises(UsageError):
            split_fractions(bad)


def test_three_way_split_is_stratified_and_every_class_reaches_test():
    units = [Unit(f"u{i:03d}", 1, {name: 1}, {name: 1 + i % 3})
             for i, name in enumerate(["a"] * 60 + ["b"] * 30 + ["c"] * 10)]
    sides = split_three(units, 0.1, 0.1, seed=3)
    assert set(sides.values()) == {TRAIN, VALIDATE, TEST}
    for name, count in (("a", 60), ("b", 30), ("c", 10)):
        per_side = {side: sum(1 for u in units if name in u.class_images
                              and sides[u.key] == side) for side in (TRAIN, VALIDATE, TEST)}
        assert per_side[TEST] == pytest.approx(count * 0.1, abs=1)
        assert per_side[VALIDATE] == pytest.approx(count * 0.1, abs=1)
    assert split_three(units, 0.1, 0.1, seed=3) == sides
    assert set(split_three(units, 0.2, 0.0, seed=3).values()) == {TRAIN, VALIDATE}


def test_tfrecord_8_1_1_writes_three_disjoint_splits_and_keeps_them(tmp_path, caplog):
    source = make_pictures(tmp_path / "in", count=30)
    shutil.copy(source / "pic000.jpg", source / "twin.jpg")  # byte-identical twin
    (source / "twin.xml").write_text((source / "pic000.xml").read_text()
                                     .replace("pic000.jpg", "twin.jpg"))
    first = tmp_path / "first"
    with caplog.at_level("INFO"):
        content = build_dataset(options(source, first, split_ratio="8,1,1"))
    splits = content["splits"]
    assert set(splits) == {"train", "validate", "test"}
    assert sum(splits[s]["images"] for s in splits) == 31
    assert splits["test"]["images"] >= 2 and splits["validate"]["images"] >= 2
    assert sorted(p.name for p in first.glob("test-*.record")) == splits["test"]["shards"]
    names = {side: _names(first, side) for side in splits}
    assert not names["train"] & names["validate"] and not names["train"] & names["test"]
    assert not names["validate"] & names["test"]
    twin_side = [side for side in names if "pic000.jpg" in names[side]]
    assert twin_side and "twin.jpg" in names[twin_side[0]]
    for row in content["classes"]:
        assert row["test_images"] >= 1 and row["validate_images"] >= 1
    table = [m for m in caplog.messages if m.startswith("ID")]
    assert table and table[-1].split() == ["ID", "NAME", "Train", "Validate", "Test"]
    assert (first / "test.csv").is_file() and (first / "test.sha256").is_file()

    grown = tmp_path / "grown"  # the same pictures + 10 new ones
    shutil.copytree(source, grown)
    make_pictures(grown / "new", count=10, seed=5)
    kept = build_dataset(options(grown, tmp_path / "second", keep_validate=first))
    for side in ("validate", "test"):
        assert kept["splits"][side] == splits[side]
        for shard in splits[side]["shards"]:
            assert (tmp_path / "second" / shard).read_bytes() == (first / shard).read_bytes()
    assert kept["splits"]["train"]["images"] == 41 - 6  # every new one trains
    assert not _names(tmp_path / "second", "train") & (names["validate"] | names["test"])


def _names(dataset, side: str) -> set[str]:
    """Pictures of a split, from its CSV (written from the same items as the shards)."""
    with open(dataset / f"{side}.csv", newline="") as stream:
        return {row["path"] for row in csv.DictReader(stream)}
