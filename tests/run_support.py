"""Helpers shared by tests/test_run_*.py and tests/test_pipeline_*.py: tiny
LabelImg datasets made of coloured squares, converted by the real tfrecord code."""
from __future__ import annotations

import random
from pathlib import Path

from odhelper.data.annotation import Annotation, Box, write_xml

CLASSES = ("red", "blue")
COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220)}


def make_pictures(folder: Path, count: int = 12, size: int = 64, seed: int = 0) -> Path:
    """`count` JPEGs of one coloured square each on grey noise, with LabelImg XML."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for index in range(count):
        name = CLASSES[index % len(CLASSES)]
        image = Image.effect_noise((size, size), 40).convert("RGB")
        side = rng.randint(size // 3, size // 2)
        left, top = rng.randint(0, size - side - 1), rng.randint(0, size - side - 1)
        ImageDraw.Draw(image).rectangle([left, top, left + side, top + side],
                                        fill=COLOURS[name])
        filename = f"pic{index:03d}.jpg"
        image.save(folder / filename, quality=90)
        write_xml(Annotation(filename=filename, width=size, height=size,
                             boxes=[Box(name, left, top, left + side, top + side)]),
                  folder / f"pic{index:03d}.xml")
    return folder


def make_dataset(root: Path, count: int = 12, size: int = 64) -> Path:
    """Pictures + `build_dataset` (the tfrecord engineer's library) -> dataset dir."""
    from odhelper.data.build import build_dataset
    from odhelper.options.data import TfrecordOptions

    pictures = make_pictures(root / "pictures", count, size)
    output = root / "dataset"
    build_dataset(TfrecordOptions(input=pictures, output=output, split_ratio=0.67, seed=1,
                                  workers=1, copy_label_map=False))
    return output
