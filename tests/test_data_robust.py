"""Killing a conversion, determinism, and the hand-made wire formats against TF's own."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data_support import all_records_readable, options, shared_dataset
from odhelper.data import example, labelmap, recordio
from odhelper.data.annotation import Box
from odhelper.data.build import build_dataset, dataset_is_current
from odhelper.datasetdir import DatasetDir

PROJECT = Path(__file__).resolve().parents[1]


def _copy_shuffled(source: Path, target: Path, seed: int) -> None:
    """Copy a dataset creating its files in a shuffled order."""
    paths = sorted(p for p in source.rglob("*") if p.is_file())
    random.Random(seed).shuffle(paths)
    for path in paths:
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)


def test_same_result_whatever_the_file_order(tmp_path):
    source = shared_dataset("playing_cards") / "images"
    results = []
    for seed in (1, 2):
        copy = tmp_path / f"copy{seed}"
        _copy_shuffled(source, copy, seed)
        output = tmp_path / f"out{seed}"
        content = build_dataset(options(copy, output, workers=1 + seed % 2, shards=3))
        shards = {name: (output / name).read_bytes()
                  for part in content["splits"].values() for name in part["shards"]}
        results.append((content["classes"], (output / "validate.csv").read_text(), shards))
    assert results[0] == results[1]
    build_dataset(options(tmp_path / "copy1", tmp_path / "seed7", seed=7))
    assert (tmp_path / "seed7" / "validate.csv").read_text() != results[0][1]


def _big_input(tmp_path: Path, copies: int) -> Path:
    """Many raccoon images under new names (hard links: no extra disk)."""
    source = shared_dataset("raccoon")
    root = tmp_path / "many"
    root.mkdir()
    for xml in sorted((source / "annotations").glob("*.xml")):
        image = source / "images" / f"{xml.stem}.jpg"
        for copy in range(copies):
            name = f"{xml.stem}-{copy}"
            try:
                os.link(image, root / f"{name}.jpg")
            except OSError:
                shutil.copyfile(image, root / f"{name}.jpg")
            text = xml.read_text().replace(f"{xml.stem}.jpg", f"{name}.jpg")
            (root / f"{name}.xml").write_text(text)
    return root


def test_sigkill_midway_leaves_the_previous_dataset_usable(tmp_path):
    source = _big_input(tmp_path, copies=8)
    output = tmp_path / "dataset"
    command = [sys.executable, "-m", "odhelper", "tfrecord", "-i", str(source), "-o",
               str(output), "--shards", "6", "--workers", "2", "--no-copy-label-map"]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    before = all_records_readable(output)
    assert before == 1600
    command[command.index("--shards") + 1] = "4"
    killed_while_writing = False
    for _ in range(3):
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if any(output.glob(f".staging-*/{recordio.TEMP_PREFIX}*.tmp")):
                time.sleep(0.05)
                break
            time.sleep(0.002)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            killed_while_writing = True
        process.wait()
        if killed_while_writing:
            break
    assert killed_while_writing, "the conversion finished before it could be killed"
    previous = DatasetDir(output).summary()  # the old dataset, whole and usable
    assert len(previous.splits["train"].shards) == 6
    assert all_records_readable(output) == 1600  # raises on a truncated or corrupt record
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not list(output.glob(f"{recordio.TEMP_PREFIX}*")) and not list(output.glob(".st*"))
    assert sorted(p.name for p in output.glob("*.record")) == sorted(
        recordio.shard_names("train", 4) + recordio.shard_names("validate", 1))
    assert all_records_readable(output) == 1600
    assert dataset_is_current(options(source, output, shards=4))


def test_example_encoding_matches_protobuf_and_records_match_tf(tmp_path):
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from odhelper.od import api

    api()
    import tensorflow as tf

    boxes = [Box("cat", 1.5, 2, 30, 40, difficult=True, truncated=True, pose="Left"),
             Box("dög", 0, 0, 64, 48)]
    data = example.detection_example(
        encoded=b"\xff\xd8 not really", image_format="jpeg", width=64, height=48,
        filename="a.jpg", source_id="sub/a.jpg", sha256="ab" * 32, boxes=boxes,
        label_ids={"cat": 1, "dög": 2})
    parsed = tf.train.Example.FromString(data).features.feature
    assert parsed["image/object/bbox/xmin"].float_list.value == pytest.approx([1.5 / 64, 0])
    assert list(parsed["image/object/class/label"].int64_list.value) == [1, 2]
    assert [v.decode() for v in parsed["image/object/class/text"].bytes_list.value] == \
        ["cat", "dög"]
    assert list(parsed["image/object/difficult"].int64_list.value) == [1, 0]
    assert list(parsed["image/object/view"].bytes_list.value) == [b"Left", b"Unspecified"]
    assert list(parsed["image/height"].int64_list.value) == [48]
    assert example.int64_feature([-1]) == tf.train.Feature(
        int64_list=tf.train.Int64List(value=[-1])).SerializeToString()
    assert example.float_feature([]) == tf.train.Feature(
        float_list=tf.train.FloatList()).SerializeToString()
    path = tmp_path / "x.record"
    payloads = [data, b"", b"x" * 100_000]
    with open(path, "wb") as stream:
        recordio.write_records(stream, payloads)
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(path))] == payloads
    ours = tmp_path / "tf.record"
    with tf.io.TFRecordWriter(str(ours)) as writer:
        for payload in payloads:
            writer.write(payload)
    assert ours.read_bytes() == path.read_bytes()
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(recordio.RecordError):
        list(recordio.read_records(path))


def test_label_map_round_trip_and_given_map(tmp_path):
    from odhelper.od import api

    mapping = {"b'quote": 3, "plain": 1, "ünï": 2}
    path = labelmap.write(mapping, tmp_path / "map.pbtxt")
    assert labelmap.read(path) == mapping
    assert api().label_map_util.get_label_map_dict(str(path)) == mapping
    (tmp_path / "given.pbtxt").write_text(
        '# comment\nitem {\n  name: "raccoon"\n  id: 7\n  display_name: "Raccoon"\n}\n')
    source = shared_dataset("raccoon")
    content = build_dataset(options(source, tmp_path / "out",
                                    label_map=tmp_path / "given.pbtxt"))
    assert content["classes"][0]["id"] == 7
    assert labelmap.read(tmp_path / "out" / "label_map.pbtxt") == {"raccoon": 7}


def test_label_map_copy_only_when_asked_inside_the_checkout(tmp_path, monkeypatch):
    source = shared_dataset("playing_cards") / "images" / "test"
    name = f"test-copy-{os.getpid()}"
    target = PROJECT / "label_maps" / f"{name}.pbtxt"
    created_folder = not target.parent.exists()
    monkeypatch.chdir(PROJECT)
    unasked = build_dataset(options(source, tmp_path / "unasked", name=name))
    assert unasked["label_map_copy"] is None and not target.exists()  # nothing written unasked
    try:
        content = build_dataset(options(source, tmp_path / name, copy_label_map=True))
        assert Path(content["label_map_copy"]) == target
        assert target.read_text() == (tmp_path / name / "label_map.pbtxt").read_text()
    finally:
        target.unlink(missing_ok=True)
        if created_folder and not any(target.parent.iterdir()):
            target.parent.rmdir()
    monkeypatch.chdir(tmp_path)
    outside = build_dataset(options(source, tmp_path / "plain", copy_label_map=True))
    assert outside["label_map_copy"] is None


def test_images_folder_apart_and_voc_devkit_layout(tmp_path):
    source = shared_dataset("raccoon")
    apart = build_dataset(options(source / "annotations", tmp_path / "apart",
                                  images=source / "images", split_ratio=8))
    assert apart["splits"]["train"]["images"] + apart["splits"]["validate"]["images"] == 200
    assert not [p for p in apart["problems"] if p["severity"] == "error"]
    devkit = tmp_path / "VOCdevkit" / "VOC2012"
    (devkit / "Annotations").mkdir(parents=True)
    (devkit / "JPEGImages").mkdir()
    for xml in sorted((source / "annotations").glob("*.xml"))[:12]:
        shutil.copyfile(xml, devkit / "Annotations" / xml.name)
        shutil.copyfile(source / "images" / f"{xml.stem}.jpg",
                        devkit / "JPEGImages" / f"{xml.stem}.jpg")
    content = build_dataset(options(tmp_path / "VOCdevkit", tmp_path / "voc"))
    assert content["splits"]["train"]["images"] + content["splits"]["validate"]["images"] == 12
    assert all(p["reason"] in ("identical_images", "grayscale_image")
               for p in content["problems"])


def test_keep_validate_grows_train_and_keeps_validation_bytes(tmp_path):
    """--keep-validate: the old validate shards are reused byte for byte; a validation
    picture copied under a new name never reaches train; new pictures all train."""
    import hashlib
    import json

    source = shared_dataset("raccoon")
    first = tmp_path / "first"
    old = build_dataset(options(source, first))
    grown = tmp_path / "grown"
    shutil.copytree(source, grown)
    validation = [line.split()[1] for line in (first / "validate.sha256").read_text().splitlines()]
    images, annotations = grown / "images", grown / "annotations"

    def add(picture_bytes_from: Path, name: str, xml_from: Path, flip: bool = False) -> None:
        from PIL import Image

        if flip:
            Image.open(picture_bytes_from).transpose(
                Image.Transpose.FLIP_LEFT_RIGHT).save(images / name)
        else:
            shutil.copyfile(picture_bytes_from, images / name)
        xml = xml_from.read_text().replace(picture_bytes_from.name, name)
        (annotations / Path(name).with_suffix(".xml")).write_text(xml)

    leaked = images / Path(validation[0]).name  # a validation picture under a new name
    add(leaked, "renamed-" + leaked.name, annotations / Path(leaked.name).with_suffix(".xml"))
    train_picture = next(p for p in sorted(images.glob("*.jpg"))
                         if p.name not in {Path(v).name for v in validation})
    add(train_picture, "fresh.jpg", annotations / train_picture.with_suffix(".xml").name,
        flip=True)  # new pixels: a new training picture
    new = build_dataset(options(grown, tmp_path / "new", keep_validate=first))

    def digests(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in folder.glob("validate*")}
    assert digests(first) == digests(tmp_path / "new")
    assert new["splits"]["validate"] == old["splits"]["validate"]
    assert new["splits"]["train"]["images"] == old["splits"]["train"]["images"] + 1
    kept = [p for p in new["problems"] if p["reason"] == "kept_in_validation"]
    assert {Path(p["detail"]).name for p in kept} >= {"renamed-" + leaked.name,
                                                       leaked.name}
    assert json.loads((tmp_path / "new" / "dataset.json").read_text())["kept_validation"]
    assert dataset_is_current(options(grown, tmp_path / "new", keep_validate=first))
