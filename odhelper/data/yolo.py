"""Read a YOLO dataset into pass-1 items (one per picture), as voc.py does for XML.

Layout: images/[sub/]NAME.jpg with labels/[sub/]NAME.txt, one `class cx cy w h` line
per box (fractions of the picture's size; a polygon `class x1 y1 x2 y2 ...` gives
its bounding box). Class names from data.yaml (`names:` list or mapping) or
classes.txt (one a line). A picture without a label file, or with an empty one,
is a background picture, as in YOLO tools.
"""
from __future__ import annotations

import os
from pathlib import Path

from odhelper.data import discover, worker
from odhelper.data.annotation import Annotation, Box
from odhelper.data.problems import problem
from odhelper.errors import OdhelperError


def class_names(root: Path) -> list[str]:
    for name in ("data.yaml", "dataset.yaml"):
        if (root / name).is_file():
            import yaml

            try:
                names = (yaml.safe_load((root / name).read_text(encoding="utf-8")) or {}) \
                    .get("names")
            except (yaml.YAMLError, AttributeError) as exc:
                raise OdhelperError(f"{root / name}: unreadable ({exc})") from None
            if isinstance(names, dict):
                return [str(names[k]) for k in sorted(names)]
            if isinstance(names, list):
                return [str(n) for n in names]
            raise OdhelperError(f"{root / name}: no `names:` list of the classes")
    lines = (root / "classes.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def _size(path: str) -> tuple[int, int]:
    """The stored pixel size, from the header only."""
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def _boxes(text: str, names: list[str], width: int, height: int, where: str):
    boxes, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        values = line.split()
        if not values:
            continue
        try:
            index, numbers = int(values[0]), [float(v) for v in values[1:]]
        except ValueError:
            problems.append(problem(where, "bad_coordinates", f"line {number}: {line!r}"))
            continue
        if not 0 <= index < len(names):
            problems.append(problem(where, "unknown_category", f"line {number}: class {index} "
                                    f"of {len(names)}"))
            continue
        if len(numbers) == 4:
            cx, cy, w, h = numbers
            xs, ys = (cx - w / 2, cx + w / 2), (cy - h / 2, cy + h / 2)
        elif len(numbers) >= 6 and len(numbers) % 2 == 0:  # a polygon
            xs, ys = numbers[0::2], numbers[1::2]
        else:
            problems.append(problem(where, "bad_coordinates", f"line {number}: {line!r}"))
            continue
        boxes.append(Box(names[index], min(xs) * width, min(ys) * height,
                         max(xs) * width, max(ys) * height))
    return boxes, problems


def read(root: Path, found: discover.FileIndex) -> list[worker.Item]:
    names = class_names(root)
    images_root = root / "images"
    items = []
    pictures = sorted(p for p in found.files if not p.lower().endswith(".xml")
                      and Path(p).is_relative_to(images_root))
    for image_path in pictures:
        sub = Path(os.path.relpath(image_path, images_root)).with_suffix(".txt")
        label = root / "labels" / sub
        item = worker.Item(xml=f"labels/{sub.as_posix()}")
        items.append(item)
        try:
            width, height = _size(image_path)
        except Exception as exc:  # noqa: BLE001 - any unreadable picture: its reason
            item.problems.append(problem(item.xml, "unreadable_image", f"{image_path}: {exc}"))
            continue
        text = label.read_text(encoding="utf-8") if label.is_file() else ""
        annotation = Annotation(os.path.basename(image_path), width, height)
        annotation.boxes, item.problems = _boxes(text, names, width, height, item.xml)
        item.has_size = True
        worker.accept(item, annotation, image_path, worker.relative(image_path, found.roots))
    return items
