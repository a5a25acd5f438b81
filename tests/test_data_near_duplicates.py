"""Near-duplicate pictures (resized, re-encoded, cropped, brightened copies of real
pictures under other names) land on one side of the split with their original."""
from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from data_support import options, shared_dataset, xml_boxes
from odhelper.data import near_duplicates
from odhelper.data.build import build_dataset
from odhelper.data.worker import Item

# Raccoon pictures with no near-duplicate among them (the set's own pairs are left out).
ORIGINALS = [f"raccoon-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17)]


def _copy_picture(source: Path, target: Path, change: str) -> None:
    """`source` (JPEG + LabelImg XML beside it in `target`'s folder) changed by
    `change`, saved as `target`, with its XML (boxes moved and scaled to match)."""
    from PIL import Image, ImageEnhance

    from odhelper.data.annotation import Annotation, Box, write_xml

    picture = Image.open(source).convert("RGB")
    width, height, boxes = xml_boxes(source.with_suffix(".xml"))
    scale, left, top, quality = 1.0, 0, 0, 90
    if change == "half":
        picture, scale = picture.resize((width // 2, height // 2)), 0.5
    elif change == "quality60":
        quality = 60
    elif change == "cropped":
        left, top = width * 2 // 100, height * 2 // 100
        picture = picture.crop((left, top, width - left, height - top))
    elif change == "brighter":
        picture = ImageEnhance.Brightness(picture).enhance(1.2)
    picture.save(target, "JPEG", quality=quality)

    def moved(value: float, offset: int, limit: int) -> float:
        return min(max(round((value - offset) * scale), 1), limit)

    new_boxes = [Box(name, moved(x0, left, picture.width), moved(y0, top, picture.height),
                     moved(x1, left, picture.width), moved(y1, top, picture.height))
                 for name, x0, y0, x1, y1 in boxes]
    write_xml(Annotation(target.name, picture.width, picture.height, boxes=new_boxes),
              target.with_suffix(".xml"))


def _small_set(folder: Path) -> Path:
    """ORIGINALS (picture + XML side by side) copied into `folder`."""
    source = shared_dataset("raccoon")
    folder.mkdir(parents=True)
    for name in ORIGINALS:
        shutil.copyfile(source / "images" / f"{name}.jpg", folder / f"{name}.jpg")
        xml = (source / "annotations" / f"{name}.xml").read_text()
        (folder / f"{name}.xml").write_text(xml)
    return folder


def _sides(output: Path) -> dict[str, str]:
    """Picture name -> side, from the CSVs."""
    sides = {}
    for side in ("train", "validate", "test"):
        path = output / f"{side}.csv"
        if path.is_file():
            with open(path, newline="") as stream:
                for row in list(csv.reader(stream))[1:]:
                    sides[row[-1]] = side
    return sides


COPIES = {"raccoon-2": "half", "raccoon-3": "quality60", "raccoon-4": "cropped",
          "raccoon-5": "brighter"}


def test_copies_land_with_their_originals_and_are_reported(tmp_path, caplog):
    folder = _small_set(tmp_path / "input")
    for original, change in COPIES.items():
        _copy_picture(folder / f"{original}.jpg", folder / f"copy-{change}.jpg", change)
    # a split ratio that puts many units in validation: a straddling copy would show
    with caplog.at_level("WARNING"):
        content = build_dataset(options(folder, tmp_path / "out", split_ratio="5"))
    sides = _sides(tmp_path / "out")
    groups = content["near_duplicates"]["groups"]
    assert sorted(groups) == sorted([sorted([f"{original}.jpg", f"copy-{change}.jpg"])
                                     for original, change in COPIES.items()])
    for original, change in COPIES.items():
        assert sides[f"copy-{change}.jpg"] == sides[f"{original}.jpg"], change
        assert f"split: {original}.jpg, copy-{change}.jpg" in caplog.text \
            or f"split: copy-{change}.jpg, {original}.jpg" in caplog.text
    assert {sides[f"{original}.jpg"] for original in COPIES} == {"train", "validate"}, \
        "the test wants copies on both sides"
    assert content["near_duplicates"]["max_distance"] == near_duplicates.QUICK_DISTANCE


# The near-duplicates of the real sets, each checked by eye: the same scene shot twice
# in a row, a captioned copy, a re-encoded copy (and raccoon-74 is raccoon-52's bytes).
REAL_PAIRS = {("raccoon-21.jpg", "raccoon-45.jpg"), ("raccoon-50.jpg", "raccoon-52.jpg"),
              ("raccoon-51.jpg", "raccoon-85.jpg"), ("IMG_2464.JPG", "IMG_2465.JPG"),
              ("IMG_2466.JPG", "IMG_2467.JPG"), ("IMG_2468.JPG", "IMG_2469.JPG"),
              ("IMG_2471.JPG", "IMG_2472.JPG"), ("IMG_2473.JPG", "IMG_2474.JPG"),
              ("cam_image1.jpg", "cam_image54.jpg")}


def test_distinct_real_pictures_are_not_linked():
    """Of every pair of distinct pictures in both real sets (many look alike: cards
    on one carpet), only the true near-duplicates are within the distances."""
    import hashlib

    pictures: dict[str, Path] = {}
    for name in ("raccoon", "playing_cards"):
        for path in sorted(shared_dataset(name).rglob("*")):
            if path.suffix.lower() == ".jpg":
                pictures.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    paths = sorted(pictures.values(), key=lambda p: p.name)
    hashes = [near_duplicates.picture_hashes(p.read_bytes()) for p in paths]
    index = near_duplicates.HashIndex(hashes)
    linked = {(paths[i].name, paths[j].name) for i, j in index.pairs().tolist()}
    assert linked == REAL_PAIRS
    assert linked == {(paths[i].name, paths[int(j)].name) for i, value in enumerate(hashes)
                      for j in index.near(value) if int(j) > i}


def _chain_hashes(steps: int) -> list[tuple[int, int]]:
    """Hashes of pictures fading from one smooth random picture into another."""
    import numpy as np
    from PIL import Image

    def smooth(seed: int):
        values = np.random.default_rng(seed).integers(0, 256, (6, 6), dtype=np.uint8)
        return Image.fromarray(values).resize((192, 128), Image.Resampling.BICUBIC)

    first, last = smooth(1), smooth(2)
    hashes = []
    for step in range(steps + 1):
        stream = io.BytesIO()
        Image.blend(first, last, step / steps).save(stream, "JPEG", quality=90)
        hashes.append(near_duplicates.picture_hashes(stream.getvalue()))
    return hashes


def test_a_chain_of_gradual_changes_is_cut(caplog):
    hashes = _chain_hashes(24)
    index = near_duplicates.HashIndex(hashes)
    for step in range(len(hashes) - 1):  # each picture near the next one
        assert step + 1 in index.near(hashes[step])
    assert len(hashes) - 1 not in index.near(hashes[0], near_duplicates.CHAIN_FACTOR)
    groups = {f"unit{step}": [Item(xml=f"{step}.xml", image_name=f"step{step:02d}.jpg",
                                   picture_hash=value)] for step, value in enumerate(hashes)}
    merged, found = near_duplicates.merge(groups)
    assert len(found.groups) >= 2 and found.chains_cut == [(len(hashes), len(merged))]
    assert sum(len(group) for group in found.groups) <= len(hashes)
    for items in merged.values():  # each piece within the chain factor of its first picture
        anchor = min(items, key=lambda item: item.image_name).picture_hash
        piece = near_duplicates.HashIndex([item.picture_hash for item in items])
        assert len(piece.near(anchor, near_duplicates.CHAIN_FACTOR)) == len(items)
    with caplog.at_level("WARNING"):
        found.log()
    assert f"a chain of {len(hashes)} similar pictures was cut into" in caplog.text


def test_keep_validate_leaves_a_near_duplicate_of_a_kept_picture_out(tmp_path, caplog):
    folder = _small_set(tmp_path / "input")
    first = tmp_path / "first"
    build_dataset(options(folder, first, split_ratio="5"))
    assert (first / "validate.phash").is_file()
    kept = sorted(line.split()[1] for line in (first / "validate.sha256").read_text()
                  .splitlines())[0]
    _copy_picture(folder / kept, folder / "brighter-copy.jpg", "brighter")
    new = build_dataset(options(folder, tmp_path / "new", keep_validate=first))
    left_out = [p for p in new["problems"] if p["reason"] == "near_kept_validation"]
    assert [(p["file"], p["detail"]) for p in left_out] == [
        ("brighter-copy.xml", f"brighter-copy.jpg looks like {kept}")]
    assert "brighter-copy.jpg" not in _sides(tmp_path / "new")
    # a kept dataset from before the hashes were written: only byte copies recognised
    (first / "validate.phash").unlink()
    with caplog.at_level("WARNING"):
        older = build_dataset(options(folder, tmp_path / "older", keep_validate=first))
    assert "no validate.phash (written by an older odhelper)" in caplog.text
    assert _sides(tmp_path / "older")["brighter-copy.jpg"] == "train"
    assert not (tmp_path / "older" / "validate.phash").exists()
    assert older["splits"]["validate"] == new["splits"]["validate"]


@pytest.mark.parametrize("data", [b"", b"\xff\xd8\xff\xe0 not a jpeg", b"GIF89a..."])
def test_undecodable_pictures_get_no_hash(data):
    assert near_duplicates.picture_hashes(data) is None
