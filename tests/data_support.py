"""Helpers shared by tests/test_data_*.py (the tfrecord converter's tests)."""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from odhelper.data import recordio
from odhelper.options.data import TfrecordOptions

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def shared_dataset(name: str) -> Path:
    path = SHARED / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


def options(input_dir, output_dir, **kwargs) -> TfrecordOptions:
    kwargs.setdefault("copy_label_map", False)
    kwargs.setdefault("workers", 2)
    return TfrecordOptions(input=Path(input_dir), output=Path(output_dir), **kwargs)


def small_picture(path: Path, colour="white") -> None:
    """A 48x32 one-colour JPEG (or by suffix) at `path`."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (48, 32), colour).save(path)


def small_xml(path: Path, filename: str, name="cat") -> None:
    """A LabelImg XML at `path` naming `filename`, with one `name` box on 48x32 pixels."""
    from odhelper.data.annotation import Annotation, Box, write_xml

    path.parent.mkdir(parents=True, exist_ok=True)
    write_xml(Annotation(filename, 48, 32, boxes=[Box(name, 4, 4, 30, 20)]), path)


def decode_records(paths) -> list[dict]:
    """Every record through the OD API's own TfExampleDecoder, as numpy values."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from odhelper.od import api

    modules = api()
    import tensorflow as tf

    decoder = modules.tf_example_decoder.TfExampleDecoder()
    fields = modules.standard_fields.InputDataFields
    decoded = []
    for record in tf.data.TFRecordDataset([str(p) for p in paths]):
        values = decoder.decode(record)
        example = tf.train.Example.FromString(record.numpy())
        decoded.append({
            "keys": set(example.features.feature.keys()),
            "image": values[fields.image].numpy(),
            "filename": values[fields.filename].numpy().decode(),
            "source_id": values[fields.source_id].numpy().decode(),
            "boxes": values[fields.groundtruth_boxes].numpy(),
            "classes": values[fields.groundtruth_classes].numpy(),
            "difficult": values[fields.groundtruth_difficult].numpy(),
            "format": example.features.feature["image/format"].bytes_list.value[0].decode(),
        })
    return decoded


def shard_paths(output: Path, content: dict, side: str | None = None) -> list[Path]:
    sides = [side] if side else list(content["splits"])
    return [output / name for s in sides for name in content["splits"][s]["shards"]]


def xml_boxes(xml_path: Path) -> tuple[int, int, list[tuple[str, float, float, float, float]]]:
    root = ET.parse(xml_path).getroot()
    width = int(root.find("size/width").text)
    height = int(root.find("size/height").text)
    boxes = [(o.find("name").text, *(float(o.find(f"bndbox/{t}").text)
                                     for t in ("xmin", "ymin", "xmax", "ymax")))
             for o in root.iter("object")]
    return width, height, boxes


def all_records_readable(directory: Path) -> int:
    """Read every *.record fully with checksums; return the record count."""
    count = 0
    for path in sorted(directory.glob("*.record")):
        count += sum(1 for _ in recordio.read_records(path))
    return count
