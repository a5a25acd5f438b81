"""The synthetic LabelImg generator: boxes match the drawn shapes, seeds repeat."""
from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from odhelper.demo import shapes
from odhelper.demo.synth import SynthOptions, generate, picture_rng
from odhelper.errors import UsageError


def _read_xml(path: Path) -> tuple[tuple[int, int], list[tuple[str, list[int]]]]:
    root = ET.parse(path).getroot()
    size = int(root.findtext("size/width")), int(root.findtext("size/height"))
    objects = [(obj.findtext("name"),
                [int(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")])
               for obj in root.iter("object")]
    return size, objects


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix in (".jpg", ".xml")}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    options = SynthOptions(out=out, count=40, holdout=3, pool=6, size=96, seed=3, workers=2,
                           classes=["circle", "square", "triangle", "star"])
    return options, generate(options)


def test_counts_layout_and_summary(generated):
    options, summary = generated
    out = options.out
    assert len(list((out / "images").glob("*.jpg"))) == 40
    assert len(list((out / "images").glob("*.xml"))) == 40
    assert len(list((out / "holdout").glob("*.jpg"))) == 3
    pool = sorted(p.relative_to(out / "pool") for p in (out / "pool").rglob("*.jpg"))
    truth = sorted(p.relative_to(out / "pool_truth") for p in (out / "pool_truth").rglob("*.xml"))
    assert len(pool) == 6 and [p.with_suffix("") for p in pool] == [t.with_suffix("")
                                                                      for t in truth]
    assert not list((out / "pool").rglob("*.xml"))  # pool boxes stay hidden
    assert json.loads((out / "synth.json").read_text()) == summary
    images = summary["splits"]["images"]
    boxes_in_xml = sum(len(_read_xml(p)[1]) for p in (out / "images").glob("*.xml"))
    assert images["images"] == 40 and images["boxes"] == boxes_in_xml
    assert sum(c["boxes"] for c in images["classes"].values()) == boxes_in_xml


def test_boxes_inside_and_objects_per_picture(generated):
    options, _ = generated
    for xml in (options.out / "images").glob("*.xml"):
        (width, height), objects = _read_xml(xml)
        assert (width, height) == (96, 96)
        assert Image.open(xml.with_suffix(".jpg")).size == (96, 96)
        assert 1 <= len(objects) <= 3
        for name, (xmin, ymin, xmax, ymax) in objects:
            assert name in options.classes
            assert 0 <= xmin < xmax <= width - 1 and 0 <= ymin < ymax <= height - 1
            side = max(xmax - xmin, ymax - ymin) / width
            assert options.min_scale * 0.7 <= side <= options.max_scale * 1.3


def test_pool_folders_hold_one_class_each(generated):
    options, _ = generated
    for xml in (options.out / "pool_truth").rglob("*.xml"):
        _, objects = _read_xml(xml)
        assert objects and {name for name, _ in objects} == {xml.parent.name}


def test_same_seed_same_bytes_whatever_the_workers(generated, tmp_path):
    options, _ = generated
    again = SynthOptions(**{**vars(options), "out": tmp_path / "again", "workers": 1})
    generate(again)
    assert _digest(again.out) == _digest(options.out)
    other = SynthOptions(**{**vars(options), "out": tmp_path / "other", "seed": 4})
    generate(other)
    assert _digest(other.out) != _digest(options.out)


@pytest.mark.parametrize("name", shapes.SHAPES)
def test_box_is_the_extent_of_the_painted_shape(name):
    """Draw shapes alone on black; the returned box must hug the painted pixels."""
    for index in range(5):
        rng = picture_rng(11, "images", index)
        image = Image.new("RGB", (128, 128))
        spot = shapes._place(rng, 128, (0.2, 0.6), [])
        cx, cy, half_w, half_h = spot
        points = shapes.unit_polygon(name, rng) * (half_w, half_h) + (cx, cy)
        ImageDraw.Draw(image).polygon([tuple(p) for p in points], fill=(255, 255, 255))
        ys, xs = np.nonzero(np.asarray(image)[..., 0])
        painted = xs.min(), ys.min(), xs.max(), ys.max()
        box = shapes._filled_extent(image, points)
        assert np.abs(np.subtract(painted, box)).max() <= 1, (name, painted, box)


def test_drawn_picture_matches_its_boxes():
    """Inside each returned box the shape's colour differs from the background."""
    rng = picture_rng(5, "images", 0)
    image, drawn = shapes.draw_picture(rng, 128, ["circle", "square", "triangle"], (0.2, 0.4))
    assert 1 <= len(drawn) <= 3 and [d.name for d in drawn] == ["circle", "square",
                                                                  "triangle"][:len(drawn)]
    pixels = np.asarray(image, np.float32)
    for shape in drawn:
        inside = pixels[shape.ymin:shape.ymax + 1, shape.xmin:shape.xmax + 1]
        centre = inside[inside.shape[0] // 2 - 2:inside.shape[0] // 2 + 3,
                        inside.shape[1] // 2 - 2:inside.shape[1] // 2 + 3].mean(axis=(0, 1))
        if shape.name != "triangle":  # a triangle's box centre may be background
            top, left = max(shape.ymin - 3, 0), max(shape.xmin - 3, 0)
            ring = pixels[top:shape.ymax + 4, left:shape.xmax + 4].copy()
            inner_rows = slice(shape.ymin - top, shape.ymax - top + 1)
            ring[inner_rows, shape.xmin - left:shape.xmax - left + 1] = np.nan  # keep the border
            outside = np.nanmean(ring.reshape(-1, 3), axis=0)
            assert np.linalg.norm(centre - outside) > 30


@pytest.mark.parametrize("changes", [
    {"classes": ["hexagon"]}, {"classes": []}, {"classes": ["circle", "circle"]},
    {"min_objects": 0}, {"min_objects": 3, "max_objects": 2}, {"max_scale": 0.95},
    {"count": 0, "holdout": 0}, {"size": 16}])
def test_bad_options_are_usage_errors(changes, tmp_path):
    with pytest.raises(UsageError):
        SynthOptions(out=tmp_path, **changes)


def test_xml_reads_back_through_our_voc_reader(generated):
    """The tfrecord reader parses every generated file to the same boxes, problem-free."""
    voc = pytest.importorskip("odhelper.data.voc")
    options, _ = generated
    for xml in sorted((options.out / "images").glob("*.xml"))[:20]:
        annotation, size_ok, problems = voc.parse(xml.read_bytes(), str(xml))
        assert size_ok and not problems
        _, objects = _read_xml(xml)
        assert [(b.name, [b.xmin, b.ymin, b.xmax, b.ymax]) for b in annotation.boxes] == objects
        kept, problems = voc.check_boxes(annotation, str(xml), 96, 96, None, False)
        assert len(kept) == len(objects) and not problems, problems
