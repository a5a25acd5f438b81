"""A tiny but real run directory for the evaluate / predict / report tests.

Everything in it is made by the real stack: pictures drawn with PIL, TFRecords
with the OD API's keys, an SSD MobileNet v2 built by the OD API and trained a
few real steps (losses logged with tf.summary), checkpoints, and an export
through `exporter_lib_v2`. It follows the run-directory contract in the brief.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

CLASSES = ("circle", "square")
IMAGE_SIZE = 128


def draw_pictures(folder: Path, count: int, seed: int = 0) -> list[dict]:
    """JPEG pictures of one or two shapes; returns their ground truth (pixels)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pictures = []
    for index in range(count):
        width, height = rng.choice([(128, 96), (112, 128), (128, 128)])
        image = Image.new("RGB", (width, height), tuple(rng.randrange(40, 90) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        boxes = []
        for slot in range(1 + index % 2):
            name = CLASSES[(index + slot) % 2]
            side = rng.randrange(28, 44)
            half = width // 2  # first shape on the left half, second on the right
            left = min(slot * half + rng.randrange(2, half - side // 2), width - side - 2)
            top = rng.randrange(2, height - side - 2)
            shape = draw.ellipse if name == "circle" else draw.rectangle
            shape((left, top, left + side, top + side), fill=(230, 230 - 60 * slot, 40))
            boxes.append({"name": name, "xmin": left, "ymin": top,
                          "xmax": left + side, "ymax": top + side})
        filename = f"pic{index:03d}.jpg"
        image.save(folder / filename, quality=92)
        pictures.append({"filename": filename, "width": width, "height": height,
                         "boxes": boxes})
    return pictures


def label_map_text() -> str:
    return "".join(f"item {{\n  id: {i}\n  name: '{name}'\n}}\n"
                   for i, name in enumerate(CLASSES, 1))


def write_records(path: Path, folder: Path, pictures: list[dict]) -> None:
    import tensorflow as tf

    def feature(values, kind):
        if kind == "bytes":
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        if kind == "float":
            return tf.train.Feature(float_list=tf.train.FloatList(value=values))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    with tf.io.TFRecordWriter(str(path)) as writer:
        for picture in pictures:
            w, h, boxes = picture["width"], picture["height"], picture["boxes"]
            name = picture["filename"].encode()
            example = tf.train.Example(features=tf.train.Features(feature={
                "image/encoded": feature([(folder / picture["filename"]).read_bytes()], "bytes"),
                "image/format": feature([b"jpeg"], "bytes"),
                "image/filename": feature([name], "bytes"),
                "image/source_id": feature([name], "bytes"),
                "image/height": feature([h], "int"), "image/width": feature([w], "int"),
                "image/object/bbox/xmin": feature([b["xmin"] / w for b in boxes], "float"),
                "image/object/bbox/xmax": feature([b["xmax"] / w for b in boxes], "float"),
                "image/object/bbox/ymin": feature([b["ymin"] / h for b in boxes], "float"),
                "image/object/bbox/ymax": feature([b["ymax"] / h for b in boxes], "float"),
                "image/object/class/text": feature([b["name"].encode() for b in boxes], "bytes"),
                "image/object/class/label": feature([CLASSES.index(b["name"]) + 1
                                                     for b in boxes], "int"),
            }))
            writer.write(example.SerializeToString())


def class_counts(pictures: list[dict]) -> dict[str, tuple[int, int]]:
    counts = {}
    for name in CLASSES:
        boxes = sum(b["name"] == name for p in pictures for b in p["boxes"])
        images = sum(any(b["name"] == name for b in p["boxes"]) for p in pictures)
        counts[name] = (images, boxes)
    return counts


def build_dataset(root: Path, train: int = 8, validate: int = 6) -> Path:
    """root/dataset with the contract's files (records, label map, dataset.json)."""
    dataset = root / "dataset"
    dataset.mkdir(parents=True, exist_ok=True)
    pictures = draw_pictures(root / "pictures", train + validate)
    splits = {"train": pictures[:train], "validate": pictures[train:]}
    for split, items in splits.items():
        write_records(dataset / f"{split}-00000-of-00001.record", root / "pictures", items)
    (dataset / "label_map.pbtxt").write_text(label_map_text())
    counts = {split: class_counts(items) for split, items in splits.items()}
    info = {"name": "tiny", "seed": 0, "ratio": train / (train + validate), "fingerprint": "t",
            "classes": [{"id": i, "name": n,
                         "train_images": counts["train"][n][0],
                         "train_boxes": counts["train"][n][1],
                         "validate_images": counts["validate"][n][0],
                         "validate_boxes": counts["validate"][n][1]}
                        for i, n in enumerate(CLASSES, 1)],
            "splits": {split: {"images": len(items),
                               "boxes": sum(len(p["boxes"]) for p in items),
                               "shards": [f"{split}-00000-of-00001.record"]}
                       for split, items in splits.items()},
            "problems": []}
    (dataset / "dataset.json").write_text(json.dumps(info, indent=1))
    return dataset


def pipeline_configs(run: Path, dataset: Path):
    from odhelper.od.smoke import load_configs

    configs = load_configs("ssd_mobilenet_v2", len(CLASSES), IMAGE_SIZE, batch_size=2)
    configs["train_input_config"].tf_record_input_reader.input_path[:] = [
        str(dataset / "train-00000-of-00001.record")]
    configs["train_input_config"].label_map_path = str(run / "label_map.pbtxt")
    for reader in configs["eval_input_configs"]:
        reader.tf_record_input_reader.input_path[:] = [
            str(dataset / "validate-00000-of-00001.record")]
        reader.label_map_path = str(run / "label_map.pbtxt")
    return configs


def train_and_checkpoint(run: Path, configs, steps_per_save: int = 2, saves: int = 2) -> None:
    """Real training steps on synthetic batches; loss events in run/train."""
    import tensorflow as tf

    from odhelper.od import api
    from odhelper.od.smoke import synthetic_batch

    od = api()
    model = od.model_builder.build(configs["model"], is_training=True)
    optimizer = tf.keras.optimizers.Adam(1e-3)
    step = tf.Variable(0, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(step=step, model=model, optimizer=optimizer)
    manager = tf.train.CheckpointManager(checkpoint, str(run / "checkpoints"), max_to_keep=5)
    writer = tf.summary.create_file_writer(str(run / "train"))
    features, labels = synthetic_batch(2, IMAGE_SIZE, len(CLASSES))
    with writer.as_default():
        for _ in range(saves):
            for _ in range(steps_per_save):
                losses = od.model_lib_v2.eager_train_step(
                    model, features, labels, unpad_groundtruth_tensors=True,
                    optimizer=optimizer, training_step=step)
                step.assign_add(1)
                for key, value in losses.items():
                    tf.summary.scalar(key, value, step=step)
                tf.summary.scalar("learning_rate", 1e-3, step=step)
            manager.save()
    writer.flush()


def export(run: Path, configs) -> Path:
    import shutil

    from odhelper.od import api

    od = api()
    proto = od.config_util.create_pipeline_proto_from_configs(configs)
    od.exporter_lib_v2.export_inference_graph(
        "image_tensor", proto, str(run / "checkpoints"), str(run / "export"))
    shutil.copy(run / "label_map.pbtxt", run / "export" / "label_map.pbtxt")
    return run / "export"


def build_tiny_run(root: Path) -> Path:
    """root/dataset + root/run (pipeline.config, label map, run.yaml, checkpoints,
    train events, export, timings.jsonl); returns the run directory."""
    import yaml

    from odhelper import log
    from odhelper.od import api

    dataset = build_dataset(root)
    run = root / "run"
    run.mkdir(parents=True, exist_ok=True)
    (run / "label_map.pbtxt").write_text(label_map_text())
    configs = pipeline_configs(run, dataset)
    od = api()
    od.config_util.save_pipeline_config(
        od.config_util.create_pipeline_proto_from_configs(configs), str(run))
    (run / "run.yaml").write_text(yaml.safe_dump(
        {"model": "ssd_mobilenet_v2", "dataset": str(dataset), "steps": 4, "batch_size": 2}))
    log.setup(run)
    try:
        with log.stage("Transfer learning", "learning", model="ssd_mobilenet_v2") as stage:
            train_and_checkpoint(run, configs)
            stage.extra["final step"] = 4  # as a run records it
        with log.stage("Export", "export"):
            export(run, configs)
    finally:
        log.setup(None)
    return run


def cached_tiny_run(tmp_path_factory) -> Path:
    """One tiny run per test session, shared by the eval/predict/report test files
    (built on first use; tests copy it before changing it)."""
    root = tmp_path_factory.getbasetemp() / "eval_tiny_run"
    run = root / "run"
    if not (run / "export" / "saved_model" / "saved_model.pb").is_file():
        import shutil
        shutil.rmtree(root, ignore_errors=True)
        build_tiny_run(root)
    return run


def copy_run(run: Path, target: Path) -> Path:
    """A private copy of the tiny run (and its dataset, which run.yaml points to)."""
    import shutil

    import yaml

    shutil.copytree(run.parent / "dataset", target / "dataset")
    shutil.copytree(run, target / "run")
    options = yaml.safe_load((target / "run" / "run.yaml").read_text())
    options["dataset"] = str(target / "dataset")
    (target / "run" / "run.yaml").write_text(yaml.safe_dump(options))
    config = target / "run" / "pipeline.config"  # point the copy at its own files
    text = config.read_text().replace(str(run.parent / "dataset"), str(target / "dataset"))
    config.write_text(text.replace(str(run), str(target / "run")))
    return target / "run"
