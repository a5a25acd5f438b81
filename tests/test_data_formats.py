"""Background pictures, --negatives, --balance and the COCO / YOLO readers, through
the real converter and the OD API's own decoder."""
from __future__ import annotations

import json
import shutil
from pathlib import Path


from data_support import decode_records, options, shard_paths
from odhelper.data.annotation import Annotation, write_xml
from odhelper.data.build import build_dataset
from run_support import make_pictures


def _voc_set(root: Path) -> Path:
    """12 boxed pictures (red / blue squares) and 2 background ones (XML, no object)."""
    from PIL import Image

    folder = make_pictures(root / "voc", count=12)
    for index in range(2):
        name = f"empty{index}.jpg"
        Image.effect_noise((64, 64), 40).convert("RGB").save(folder / name, quality=90)
        write_xml(Annotation(name, 64, 64), folder / f"empty{index}.xml")
    return folder


def _annotations(folder: Path) -> list[tuple[str, int, int, list]]:
    from odhelper.data import voc

    found = []
    for xml in sorted(folder.glob("*.xml")):
        annotation = voc.parse(xml.read_bytes(), xml.name)[0]
        found.append((annotation.filename, annotation.width, annotation.height,
                      annotation.boxes))
    return found


def _as_coco(voc_folder: Path, root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    names = sorted({b.name for *_, boxes in _annotations(voc_folder) for b in boxes})
    content = {"images": [], "annotations": [],
               "categories": [{"id": 10 + i, "name": n} for i, n in enumerate(names)]}
    for number, (filename, width, height, boxes) in enumerate(_annotations(voc_folder)):
        shutil.copy(voc_folder / filename, root / "images" / filename)
        content["images"].append({"id": number, "file_name": filename, "width": width,
                                  "height": height})
        for box in boxes:
            content["annotations"].append({
                "id": len(content["annotations"]), "image_id": number, "iscrowd": 0,
                "category_id": 10 + names.index(box.name),
                "bbox": [box.xmin, box.ymin, box.xmax - box.xmin, box.ymax - box.ymin]})
    (root / "annotations").mkdir()
    (root / "annotations" / "instances.json").write_text(json.dumps(content))
    return root


def _as_yolo(voc_folder: Path, root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    names = sorted({b.name for *_, boxes in _annotations(voc_folder) for b in boxes})
    (root / "data.yaml").write_text("names:\n" + "".join(f"  - {n}\n" for n in names))
    for filename, width, height, boxes in _annotations(voc_folder):
        shutil.copy(voc_folder / filename, root / "images" / filename)
        lines = [f"{names.index(b.name)} {(b.xmin + b.xmax) / 2 / width:.6f} "
                 f"{(b.ymin + b.ymax) / 2 / height:.6f} {(b.xmax - b.xmin) / width:.6f} "
                 f"{(b.ymax - b.ymin) / height:.6f}" for b in boxes]
        if lines:  # a background picture: no label file at all
            (root / "labels" / f"{Path(filename).stem}.txt").write_text("\n".join(lines))
    return root


def _records(output: Path, content: dict) -> dict[str, tuple]:
    """filename -> (class names, boxes in pixels) of every record."""
    names = {c["id"]: c["name"] for c in content["classes"]}
    found = {}
    for record in decode_records(shard_paths(output, content)):
        height, width = record["image"].shape[:2]
        pixels = record["boxes"] * [height, width, height, width]
        found[record["filename"]] = ([names[int(c)] for c in record["classes"]], pixels)
    return found


def _without_paths(content: dict) -> dict:
    return {"classes": content["classes"],
            "splits": {side: {k: v for k, v in part.items() if k != "shards"}
                       for side, part in content["splits"].items()}}


def test_three_formats_same_records(tmp_path):
    from odhelper.data import formats

    voc_folder = _voc_set(tmp_path)
    inputs = {"voc": voc_folder, "coco": _as_coco(voc_folder, tmp_path / "coco"),
              "yolo": _as_yolo(voc_folder, tmp_path / "yolo")}
    built = {}
    for kind, folder in inputs.items():
        assert formats.detect(options(folder, tmp_path / "x")) == kind
        output = tmp_path / f"out-{kind}"
        content = build_dataset(options(folder, output, workers=1, split_ratio=0.7))
        built[kind] = (content, _records(output, content))
    voc_content, voc_records = built["voc"]
    assert len(voc_records) == 14
    assert sum(s["background"] for s in voc_content["splits"].values()) == 2
    for kind in ("coco", "yolo"):
        content, records = built[kind]
        assert _without_paths(content) == _without_paths(voc_content), kind
        assert records.keys() == voc_records.keys()
        for name, (classes, boxes) in records.items():
            assert classes == voc_records[name][0]
            assert boxes.shape == voc_records[name][1].shape
            assert abs(boxes - voc_records[name][1]).max(initial=0) <= 0.5, (kind, name)


def test_cli_takes_a_coco_file_and_a_forced_format(tmp_path, capsys):
    from odhelper import cli

    voc_folder = _voc_set(tmp_path)
    coco = _as_coco(voc_folder, tmp_path / "coco") / "annotations" / "instances.json"
    assert cli.main(["tfrecord", "-i", str(coco), "-o", str(tmp_path / "a"), "--workers", "1",
                     "--no-copy-label-map"]) == 0
    content = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert sum(s["images"] for s in content["splits"].values()) == 14
    assert content["options"]["format"] == "auto"
    assert cli.main(["tfrecord", "-i", str(voc_folder), "-o", str(tmp_path / "b"),
                     "--format", "yolo"]) == 1
    assert "not a YOLO folder" in capsys.readouterr().err


def test_background_pictures_and_negatives(tmp_path, caplog):
    from PIL import Image

    voc_folder = _voc_set(tmp_path)
    negatives = tmp_path / "negatives"
    negatives.mkdir()
    for index in range(4):
        Image.effect_noise((48, 48), 30).convert("RGB").save(negatives / f"n{index}.png")
    output = tmp_path / "out"
    content = build_dataset(options(voc_folder, output, workers=1, split_ratio=0.7,
                                    negatives=negatives))
    splits = content["splits"]
    assert splits["train"]["background"] + splits["validate"]["background"] == 6
    assert splits["validate"]["background"] >= 1  # validation holds its share
    empty = [r for r in decode_records(shard_paths(output, content)) if not len(r["boxes"])]
    assert sorted(r["filename"] for r in empty) == \
        ["empty0.jpg", "empty1.jpg"] + [f"n{i}.png" for i in range(4)]
    from odhelper.data import background, worker

    with caplog.at_level("WARNING"):
        background.warn_share([worker.Item("a", boxes=[])] * 3 + [worker.Item("b", boxes=[1])])
    assert "Background pictures are 3 of the 4 training pictures" in caplog.text
    old = build_dataset(options(voc_folder, tmp_path / "old", workers=1, background=False))
    assert sum(s["background"] for s in old["splits"].values()) == 0
    assert old["problem_counts"]["no_objects"] == 2


def test_balance_repeats_training_pictures_only(tmp_path):
    from odhelper.data import balance

    folder = make_pictures(tmp_path / "voc", count=24)
    for xml in sorted(folder.glob("*.xml"))[1:16:2]:  # most blue pictures become red...
        xml.write_text(xml.read_text().replace("<name>blue</name>", "<name>red</name>"))
    plain = build_dataset(options(folder, tmp_path / "plain", workers=1))
    output = tmp_path / "balanced"
    content = build_dataset(options(folder, output, workers=1, balance="repeat"))
    rows = {r["name"]: r for r in content["balance"]["classes"]}
    assert rows["blue"]["repeat_factor"] > 1.0 == rows["red"]["repeat_factor"]
    assert rows["red"]["boxes_per_epoch"] == rows["red"]["boxes_before"]
    train = decode_records(shard_paths(output, content, "train"))
    assert len(train) == content["splits"]["train"]["records"] > plain["splits"]["train"]["images"]
    assert sum(1 for r in train for _ in r["boxes"]) == sum(r["boxes_per_epoch"]
                                                            for r in rows.values())
    assert content["splits"]["validate"] == {**plain["splits"]["validate"],
                                             "shards": content["splits"]["validate"]["shards"]}
    assert len(decode_records(shard_paths(output, content, "validate"))) == \
        plain["splits"]["validate"]["images"]
    again = balance.plan([], "sqrt", 0.0, 1)
    assert again.copies == [] and again.rows == []


def test_balance_copies_report_each_problem_once(tmp_path):
    """A repeated picture's problems (here a wrong <size>) are reported once, not per copy."""
    folder = make_pictures(tmp_path / "voc", count=24)
    for xml in sorted(folder.glob("*.xml"))[1:16:2]:  # most blue pictures become red
        xml.write_text(xml.read_text().replace("<name>blue</name>", "<name>red</name>"))
    for xml in folder.glob("*.xml"):
        xml.write_text(xml.read_text().replace("<width>64</width>", "<width>65</width>"))
    plain = build_dataset(options(folder, tmp_path / "plain", workers=1))
    balanced = build_dataset(options(folder, tmp_path / "balanced", workers=1, balance="repeat"))
    assert balanced["splits"]["train"]["records"] > plain["splits"]["train"]["images"]
    assert plain["problem_counts"]["size_mismatch"] == 24
    assert balanced["problem_counts"]["size_mismatch"] == 24


def test_coco_pictures_found_in_the_images_folder(tmp_path):
    """COCO JSON beside a separate picture folder given with --images."""
    voc_folder = _voc_set(tmp_path)
    coco = _as_coco(voc_folder, tmp_path / "coco")
    pictures = tmp_path / "train2017"
    (coco / "images").rename(pictures)
    content = build_dataset(options(coco / "annotations" / "instances.json", tmp_path / "out",
                                    workers=1, images=pictures))
    assert sum(s["images"] for s in content["splits"].values()) == 14
