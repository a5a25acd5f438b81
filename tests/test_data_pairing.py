"""Picture pairing never takes a stranger's picture from another folder, keeps a picture's
own XML, and says so when it falls back to pairing by name (the layouts it finds pictures
in: test_data_layouts.py)."""
from __future__ import annotations

import csv
import logging
from pathlib import Path

from data_support import options, small_picture, small_xml
from odhelper.data.build import build_dataset


def _convert(root: Path, tmp_path: Path) -> dict:
    return build_dataset(options(root, tmp_path / "out", split_ratio=0.5, background=False))


def _problems(content: dict, reason: str) -> dict[str, str]:
    return {p["file"]: p["detail"] for p in content["problems"] if p["reason"] == reason}


def _sources(tmp_path: Path, content: dict) -> dict[str, str]:
    """picture path -> class of every picture converted (train.csv + validate.csv)."""
    found = {}
    for side in ("train", "validate"):
        with open(tmp_path / "out" / f"{side}.csv", newline="", encoding="utf-8") as stream:
            found.update({row["path"]: row["class"] for row in csv.DictReader(stream)})
    return found


def test_no_pairing_with_a_same_named_picture_in_another_folder(tmp_path):
    root = tmp_path / "in"
    small_xml(root / "a" / "shot.xml", "shot.jpg", name="from_a")  # its picture is missing
    small_picture(root / "b" / "shot.jpg")  # a stranger's picture of the same name
    small_xml(root / "b" / "other.xml", "other.jpg")
    small_picture(root / "b" / "other.jpg")
    content = _convert(root, tmp_path)
    missing = _problems(content, "missing_image")  # b/ holds annotations: its pictures are theirs
    assert "b/shot.jpg: it sits among other annotations" in missing["a/shot.xml"]
    assert "give --images" in missing["a/shot.xml"]
    assert "b/shot.jpg" not in _sources(tmp_path, content)


def test_a_pictures_own_xml_wins_over_a_strangers(tmp_path):
    """annotations/p.xml points at images/p.jpg (the layout's pairing) while
    images/p.xml sits beside it: the picture's own XML is kept, and the other is
    told which and why, even though it comes first in path order."""
    root = tmp_path / "in"
    small_picture(root / "images" / "p.jpg")
    small_xml(root / "images" / "p.xml", "p.jpg", name="own")
    small_xml(root / "annotations" / "p.xml", "p.jpg", name="stranger")
    small_picture(root / "images" / "q.jpg")
    small_xml(root / "annotations" / "q.xml", "q.jpg", name="layout")  # sibling layout still pairs
    content = _convert(root, tmp_path)
    twice = _problems(content, "image_annotated_twice")
    assert set(twice) == {"annotations/p.xml"}
    assert "images/p.xml, which is kept" in twice["annotations/p.xml"]
    assert "own XML" in twice["annotations/p.xml"]
    assert _sources(tmp_path, content) == {"images/p.jpg": "own", "images/q.jpg": "layout"}


def test_fallback_pairing_by_stem_is_a_noted_problem(tmp_path, caplog):
    root = tmp_path / "in"
    small_picture(root / "Holiday.JPG")
    small_xml(root / "holiday.xml", "renamed_since.png")
    small_picture(root / "plain.jpg")
    small_xml(root / "plain.xml", "plain.jpg")
    with caplog.at_level(logging.INFO):
        content = _convert(root, tmp_path)
    noted = _problems(content, "paired_by_name")
    assert set(noted) == {"holiday.xml"} and "Holiday.JPG" in noted["holiday.xml"]
    assert "paired_by_name" in caplog.text and "holiday.xml" in caplog.text
    assert set(_sources(tmp_path, content)) == {"Holiday.JPG", "plain.jpg"}
