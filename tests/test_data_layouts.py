"""Folder layouts of LabelImg / VOC data convert with no flags: pictures are found by
<filename> in any folder, nearest first, never guessed; a VOC devkit's ImageSets
lists can be the split; `run -i` takes every tfrecord input option."""
from __future__ import annotations

import csv
import logging
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from data_support import options, shared_dataset, small_picture, small_xml, xml_boxes
from odhelper import cli
from odhelper.data.build import build_dataset
from odhelper.errors import OdhelperError, UsageError
from odhelper.options import fields
from odhelper.options.training import RunOptions

COUNT = 40  # pictures per layout
# layout: (annotation folder, picture folder), relative to the input
LAYOUTS = {
    "beside": ("shots", "shots"),
    "annotations+images": ("annotations", "images"),
    "voc_devkit": ("VOC2012/Annotations", "VOC2012/JPEGImages"),
    "annots+images": ("annots", "images"),
    "oxford_pet": ("annotations/xmls", "images"),
    "ann+img": ("ann", "img"),
    "xml+jpg": ("xml", "jpg"),
    "Annotations+imgs": ("Annotations", "imgs"),
}
UNPAIRED = ("missing_image", "ambiguous_image", "paired_by_name", "image_annotated_twice")


def _shared_pairs(name: str) -> list[tuple[Path, Path]]:
    """(XML, its picture) of a shared dataset, the first COUNT by name."""
    source = shared_dataset(name)
    xmls = sorted(source.rglob("*.xml"), key=lambda p: p.name)[:COUNT]
    pairs = []
    for xml in xmls:
        folder = source / "images" if name == "raccoon" else xml.parent
        picture = next(p for p in folder.iterdir() if p.stem == xml.stem and p.suffix != ".xml")
        pairs.append((xml, picture))
    return pairs


def _build_layout(root: Path, layout: str, pairs) -> None:
    xml_folder, picture_folder = LAYOUTS[layout]
    for xml, picture in pairs:
        (root / xml_folder).mkdir(parents=True, exist_ok=True)
        (root / picture_folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(xml, root / xml_folder / xml.name)
        os.symlink(picture, root / picture_folder / picture.name)
        if layout == "oxford_pet":  # the Pet set's trimaps: same stem, another picture
            trimap = root / "annotations" / "trimaps" / f"{xml.stem}.png"
            trimap.parent.mkdir(parents=True, exist_ok=True)
            Image.new("L", (8, 8)).save(trimap)


def _problems(content: dict, *reasons: str) -> dict[str, str]:
    return {p["file"]: p["detail"] for p in content["problems"] if p["reason"] in reasons}


def _csv_paths(output: Path, side: str) -> set[str]:
    with open(output / f"{side}.csv", newline="", encoding="utf-8") as stream:
        return {row["path"] for row in csv.DictReader(stream)}


@pytest.mark.parametrize("dataset", ["raccoon", "playing_cards"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_converts_with_no_flags(tmp_path, caplog, layout, dataset):
    pairs = _shared_pairs(dataset)
    root = tmp_path / "in"
    _build_layout(root, layout, pairs)
    with caplog.at_level(logging.INFO):
        content = build_dataset(options(root, tmp_path / "out"))
    splits = content["splits"]
    assert content["annotations_found"] == COUNT
    assert splits["train"]["images"] + splits["validate"]["images"] == COUNT
    assert splits["train"]["boxes"] + splits["validate"]["boxes"] == \
        sum(len(xml_boxes(xml)[2]) for xml, _ in pairs)
    assert not _problems(content, *UNPAIRED)
    xml_folder, picture_folder = LAYOUTS[layout]
    line = f"Pictures of {xml_folder}/ found in {picture_folder}/ ({COUNT} of {COUNT})"
    assert (line in caplog.text) == (xml_folder != picture_folder)


def test_same_named_pictures_equally_near_are_refused_naming_each(tmp_path):
    root = tmp_path / "in"
    small_xml(root / "ann" / "1.xml", "1.jpg")
    small_picture(root / "img_a" / "1.jpg")
    small_picture(root / "img_b" / "1.jpg", "black")
    small_xml(root / "ann" / "2.xml", "2.jpg")
    small_picture(root / "img_a" / "2.jpg")
    small_xml(root / "ann" / "3.xml", "cats/3.jpg")  # a <filename> with a folder settles it
    small_picture(root / "img_a" / "cats" / "3.jpg")
    small_picture(root / "img_a" / "dogs" / "3.jpg", "black")
    content = build_dataset(options(root, tmp_path / "out", split_ratio=0.5))
    refused = _problems(content, "ambiguous_image")
    assert set(refused) == {"ann/1.xml"}
    assert "img_a/1.jpg" in refused["ann/1.xml"] and "img_b/1.jpg" in refused["ann/1.xml"]
    assert "--images" in refused["ann/1.xml"]
    assert _csv_paths(tmp_path / "out", "train") | _csv_paths(tmp_path / "out", "validate") \
        == {"img_a/2.jpg", "img_a/cats/3.jpg"}
    again = build_dataset(options(root, tmp_path / "out", split_ratio=0.5,
                                  images=root / "img_b"))  # --images settles it
    assert not _problems(again, *UNPAIRED)
    assert "img_b/1.jpg" in _csv_paths(tmp_path / "out", "train") | \
        _csv_paths(tmp_path / "out", "validate")


def test_nearest_level_first_and_never_a_picture_another_xml_has(tmp_path):
    """train/ann/x.xml takes train/img/x.jpg, not val/img/x.jpg; a picture another XML
    found in its own places (the layout's images/) is not taken by a stranger."""
    root = tmp_path / "in"
    for side, colour in (("train", "white"), ("val", "black")):
        small_xml(root / side / "ann" / "x.xml", "x.jpg", name=side)
        small_picture(root / side / "img" / "x.jpg", colour)
    small_xml(root / "annotations" / "p.xml", "p.jpg", name="own")
    small_picture(root / "images" / "p.jpg")
    small_xml(root / "extra" / "p.xml", "p.jpg", name="stranger")
    content = build_dataset(options(root, tmp_path / "out", split_ratio=0.5, background=False))
    twice = _problems(content, "image_annotated_twice")
    assert set(twice) == {"extra/p.xml"} and "annotations/p.xml" in twice["extra/p.xml"]
    found = {}
    for side in ("train", "validate"):
        with open(tmp_path / "out" / f"{side}.csv", newline="", encoding="utf-8") as stream:
            found.update({row["path"]: row["class"] for row in csv.DictReader(stream)})
    assert found == {"train/img/x.jpg": "train", "val/img/x.jpg": "val", "images/p.jpg": "own"}


def test_nothing_pairs_says_where_the_pictures_are_and_which_option(tmp_path):
    project = tmp_path / "project"
    small_xml(project / "labels_only" / "a.xml", "a.jpg")
    small_picture(project / "photos" / "a.jpg")
    with pytest.raises(OdhelperError) as caught:
        build_dataset(options(project / "labels_only", tmp_path / "out"))
    message = str(caught.value)
    assert "nothing usable" in message and "labels_only/a.xml" not in message
    assert f"one is in {project / 'photos'}, outside it: give --images" in message
    content = build_dataset(options(project / "labels_only", tmp_path / "out",
                                    images=project / "photos"))
    assert content["splits"]["train"]["images"] + content["splits"]["validate"]["images"] == 1
    (project / "photos" / "a.jpg").unlink()
    with pytest.raises(OdhelperError, match="no picture named 'a.jpg' .*anywhere under the "
                       "input; give --images"):
        build_dataset(options(project / "labels_only", tmp_path / "out"))


def _devkit(root: Path) -> list[str]:
    """A VOC devkit of the first COUNT raccoon pictures; their ids."""
    pairs = _shared_pairs("raccoon")
    _build_layout(root, "voc_devkit", pairs)
    return [xml.stem for xml, _ in pairs]


def test_voc_imagesets_are_named_and_usable_as_the_split(tmp_path, caplog):
    root = tmp_path / "in"
    ids = _devkit(root)
    assert "raccoon-11" in ids and "raccoon-116" in ids  # byte-identical twins
    lists = {"train": [i for i in ids[:20] if i != "raccoon-116"] + ["raccoon-999"],
             "val": [i for i in ids[20:30] if i != "raccoon-11"] + ["raccoon-116"],
             "test": ids[30:35]}
    lists["train"] = sorted(set(lists["train"]) | {"raccoon-11"})
    lists["trainval"] = lists["train"] + lists["val"]
    main = root / "VOC2012" / "ImageSets" / "Main"
    main.mkdir(parents=True)
    for name, listed in lists.items():
        (main / f"{name}.txt").write_text("".join(f"{i}\n" for i in listed))
    (main / "raccoon_train.txt").write_text("raccoon-1  1\n")  # per-class lists: not the split
    with caplog.at_level(logging.INFO):
        content = build_dataset(options(root, tmp_path / "plain"))
    assert "VOC lists in VOC2012/ImageSets/Main: train.txt" in caplog.text
    assert "not used: the split is by -sr" in caplog.text
    assert content["splits"]["train"]["images"] + content["splits"]["validate"]["images"] \
        == COUNT
    out = tmp_path / "listed"
    content = build_dataset(options(root, out, split_from="imagesets"))
    expected = {"train": set(lists["train"]) - {"raccoon-999"}, "validate": set(lists["val"]),
                "test": set(lists["test"])}
    for side, stems in expected.items():
        assert {Path(p).stem for p in _csv_paths(out, side)} == stems, side
        assert content["splits"][side]["images"] == len(stems)
    left_out = _problems(content, "not_in_split_lists")
    assert {Path(f).stem for f in left_out} == set(ids) - set().union(*expected.values())
    across = _problems(content, "identical_across_splits")
    assert {Path(f).stem for f in across} == {"raccoon-11", "raccoon-116"}
    assert content["ratio"] == pytest.approx(len(expected["train"]) / 35, abs=1e-6)
    with pytest.raises(UsageError, match="no ImageSets/Main/train.txt"):  # lists outside -i
        build_dataset(options(root / "VOC2012" / "Annotations", tmp_path / "none",
                              split_from="imagesets"))


def _run_options(argv: list[str]) -> RunOptions:
    argv = ["run"] + argv
    return fields.from_namespace(RunOptions, cli.build_parser(argv).parse_args(argv))


def test_run_takes_every_tfrecord_input_option(tmp_path):
    from odhelper.workflows import scaleout

    root = tmp_path / "labels"
    small_xml(root / "a.xml", "a.jpg")
    small_xml(root / "b.xml", "b.jpg", name="dog")
    small_picture(tmp_path / "photos" / "a.jpg")
    small_picture(tmp_path / "photos" / "b.jpg", "black")
    given = ["--images", str(tmp_path / "photos"), "--format", "voc", "--max-pixels", "5000",
             "--skip-difficult", "--verify-pixels", "--no-background", "--balance", "sqrt",
             "--split-from", "ratio", "--strict"]
    run = _run_options(["-i", str(root), "--steps", "5", "--run-dir", str(tmp_path / "run"),
                        "-sr", "0.5"] + given)
    tfrecord = scaleout.tfrecord_options(run, workers=1)
    assert (tfrecord.input, tfrecord.images, tfrecord.format, tfrecord.max_pixels) == \
        (root, tmp_path / "photos", "voc", 5000)
    assert (tfrecord.skip_difficult, tfrecord.verify_pixels, tfrecord.background,
            tfrecord.balance, tfrecord.strict) == (True, True, False, "sqrt", True)
    assert tfrecord.output == tmp_path / "run" / "dataset"
    content = build_dataset(tfrecord)  # the dataset `run -i` makes: pictures via --images
    assert content["splits"]["train"]["images"] + content["splits"]["validate"]["images"] == 2
    with pytest.raises(UsageError, match="-i is needed for --images"):
        _run_options(["--dataset", str(tmp_path), "--steps", "5",
                      "--images", str(tmp_path / "photos")])
