"""Tiles for large pictures with small objects (`--tile`): the grid, the boxes a tile
keeps, tiles that never straddle the split (real playing cards pasted 3x3 into large
pictures, converted by the real tfrecord code), and merged detections."""
from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from data_support import options, shared_dataset
from odhelper.data import tiles
from odhelper.data.annotation import Box
from odhelper.data.build import build_dataset
from odhelper.engine.tiled import cut_by_inner_edges, merge

CARD = (378, 504)  # the cards' usual size


def test_windows_cover_the_picture_overlap_and_end_flush():
    assert tiles.starts(500, 640, 0.2) == [0]
    assert tiles.starts(1134, 640, 0.2) == [0, 494]
    assert tiles.starts(1512, 640, 0.2) == [0, 512, 872]
    windows = tiles.grid(1134, 1512, 640, 0.2)
    assert len(windows) == 6 and all(x1 - x0 == 640 and y1 - y0 == 640
                                     for x0, y0, x1, y1 in windows)
    covered = np.zeros((1512, 1134), bool)
    for x0, y0, x1, y1 in windows:
        covered[y0:y1, x0:x1] = True
    assert covered.all()


def test_a_tile_keeps_a_cut_box_only_when_enough_of_it_is_inside():
    window = (100, 100, 300, 300)
    boxes = [Box("a", 150, 150, 200, 200), Box("b", 290, 150, 340, 200),
             Box("c", 250, 150, 330, 200), Box("d", 400, 400, 420, 420)]
    kept = tiles.clipped(boxes, window)
    assert [(b.name, b.xmin, b.ymin, b.xmax, b.ymax, b.truncated) for b in kept] == [
        ("a", 50, 50, 100, 100, False), ("c", 150, 50, 200, 100, True)]  # b: 20 % inside


def test_merge_keeps_one_box_per_object_and_class():
    boxes = np.array([[0, 0, 100, 100], [2, 3, 101, 99], [0, 0, 100, 100], [300, 300, 350, 350]],
                     np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    classes = np.array([1, 1, 2, 1])
    assert list(merge(boxes, scores, classes)) == [0, 2, 3]


def test_a_box_cut_by_a_tile_edge_yields_to_the_whole_view_of_its_object():
    # a raccoon seen whole (0.6) and, in the next tile, its left half cut at the edge x=640
    # with a higher score (IoU 0.5 with the whole box: NMS alone kept both)
    whole, half = [600, 560, 680, 720], [600, 560, 680, 640]
    alone = [100, 1000, 150, 1050]  # cut, but nothing else sees it: kept
    inner = [610, 600, 650, 640]  # a smaller object inside the whole one, not cut: kept
    boxes = np.array([whole, half, alone, inner], np.float32)
    scores = np.array([0.6, 0.9, 0.7, 0.5], np.float32)
    cut = np.array([False, True, True, False])
    assert list(merge(boxes, scores, np.ones(4), cut)) == [2, 0, 3]
    assert list(merge(boxes, scores, np.ones(4))) == [1, 2, 0, 3]  # without the flags
    assert tiles.shared_pixels(640, 0.2) == 128  # objects up to this lie whole in a tile


def test_only_the_edges_between_tiles_cut_boxes():
    window = (512, 0, 1152, 640)  # x0, y0, x1, y1 of a tile of a 1920 x 1440 picture
    boxes = np.array([[10, 513, 60, 600],  # at its left edge, inside the picture: cut
                      [0, 700, 50, 760],  # at its top edge, the picture's edge: whole
                      [300, 800, 400, 900],  # inside
                      [600, 900, 639, 1000]], np.float32)  # at its bottom edge: cut
    assert list(cut_by_inner_edges(boxes, window, 1920, 1440)) == [True, False, False, True]


def _pasted(folder: Path, groups: int) -> Path:
    """`groups` pictures of 3x3 real cards (1134x1512), each card keeping its pixels."""
    from PIL import Image

    source = shared_dataset("playing_cards") / "images" / "train"
    xmls = [x for x in sorted(source.glob("*.xml"))
            if Image.open(x.with_suffix(".JPG") if x.with_suffix(".JPG").exists()
                          else x.with_suffix(".jpg")).size == CARD][:9 * groups]
    folder.mkdir(parents=True)
    for group in range(groups):
        canvas, objects = Image.new("RGB", (3 * CARD[0], 3 * CARD[1]), (128, 128, 128)), ""
        for place, xml in enumerate(xmls[9 * group:9 * group + 9]):
            root = ET.parse(xml).getroot()
            left, top = (place % 3) * CARD[0], (place // 3) * CARD[1]
            canvas.paste(Image.open(xml.parent / root.findtext("filename")), (left, top))
            for item in root.iter("object"):
                box = item.find("bndbox")
                x0, y0, x1, y1 = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax",
                                                                    "ymax"))
                objects += (f"<object><name>{item.findtext('name')}</name><bndbox>"
                            f"<xmin>{left + x0:.0f}</xmin><ymin>{top + y0:.0f}</ymin>"
                            f"<xmax>{left + x1:.0f}</xmax><ymax>{top + y1:.0f}</ymax>"
                            "</bndbox></object>")
        canvas.save(folder / f"grid_{group}.jpg", quality=90)
        (folder / f"grid_{group}.xml").write_text(
            f"<annotation><filename>grid_{group}.jpg</filename><size><width>{3 * CARD[0]}"
            f"</width><height>{3 * CARD[1]}</height><depth>3</depth></size>{objects}"
            "</annotation>")
    return folder


def _examples(path: Path) -> list[dict]:
    import tensorflow as tf

    found = []
    for record in tf.data.TFRecordDataset(str(path)):
        features = tf.train.Example.FromString(record.numpy()).features.feature
        found.append({key: list(getattr(features[key], features[key].WhichOneof("kind")).value)
                      for key in features})
    return found


@pytest.mark.parametrize("seed", [1, 7])
def test_tiles_never_straddle_the_split(tmp_path, seed):
    pictures = _pasted(tmp_path / "pasted", 6)
    content = build_dataset(options(pictures, tmp_path / "dataset", seed=seed, tile=640,
                                    split_ratio="5"))
    assert {k: content["tile"][k] for k in ("size", "overlap")} == {"size": 640, "overlap": 0.2}
    with open(tmp_path / "dataset" / "pictures.csv", newline="") as stream:
        side_of = {row["path"]: row["split"] for row in csv.DictReader(stream)}
    for side in ("train", "validate"):
        examples = [e for shard in content["splits"][side]["shards"]
                    for e in _examples(tmp_path / "dataset" / shard)]
        left_out = content["tile"]["empty_tiles_left_out"] if side == "train" else 0
        assert len(examples) == content["splits"][side]["records"] == 6 * sum(
            1 for s in side_of.values() if s == side) - left_out  # 6 tiles per picture
        for example in examples:
            picture, origin = example["image/source_id"][0].decode().rsplit("@", 1)
            assert side_of[picture] == side and origin.count(",") == 1
            assert example["image/width"] == [640] and example["image/height"] == [640]
            for key in ("xmin", "ymin", "xmax", "ymax"):
                assert all(0.0 <= v <= 1.0 for v in example[f"image/object/bbox/{key}"])
    # box sizes are recorded as shares of the tile: what the model's input sees
    width = content["box_stats"]["classes"]["ace"]["width"][1]
    assert width == pytest.approx(
        content["box_stats"]["classes"]["ace"]["width_px"][1] / 640, abs=0.01)
