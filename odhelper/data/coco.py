"""Read a COCO instances JSON into pass-1 items (one per picture), as voc.py does for XML.

`bbox` is [x, y, width, height] in pixels; a crowd region (`iscrowd: 1`) becomes a
box marked difficult (--skip-difficult drops it). A picture listed with no
annotation is a background picture.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from odhelper.data import discover, worker
from odhelper.data.annotation import Annotation, Box
from odhelper.data.problems import problem
from odhelper.errors import OdhelperError


def _load(path: str) -> dict:
    try:
        content = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OdhelperError(f"{path}: not a readable COCO JSON ({exc})") from None
    if not isinstance(content, dict) or not isinstance(content.get("images"), list):
        raise OdhelperError(f"{path}: not a COCO instances file (no \"images\" list)")
    return content


def _box(entry: dict, names: dict, where: str):
    """(Box, None) or (None, Problem) for one annotation entry."""
    name = names.get(entry.get("category_id"))
    if name is None:
        return None, problem(where, "unknown_category",
                             f"category_id {entry.get('category_id')!r}")
    try:
        x, y, w, h = (float(v) for v in entry["bbox"])
    except (KeyError, TypeError, ValueError):
        return None, problem(where, "bad_coordinates", f"{name!r}: bbox {entry.get('bbox')!r}")
    return Box(name, x, y, x + w, y + h, difficult=bool(entry.get("iscrowd"))), None


def read(found: discover.FileIndex, images_dir: Path | None) -> list[worker.Item]:
    finder = discover.ImageFinder(found, images_dir)
    items = []
    for json_path in found.xml_files:
        content = _load(json_path)
        names = {c.get("id"): str(c.get("name", "")).strip()
                 for c in content.get("categories", []) if isinstance(c, dict)}
        by_image: dict = {}
        for entry in content.get("annotations", []):
            if isinstance(entry, dict):
                by_image.setdefault(entry.get("image_id"), []).append(entry)
        label = os.path.relpath(json_path, found.roots[0]).replace(os.sep, "/")
        for picture in content["images"]:
            file_name = str(picture.get("file_name", ""))
            item = worker.Item(xml=f"{label}:{file_name}", source_file=json_path)
            items.append(item)
            annotation = Annotation(os.path.basename(file_name), int(picture.get("width") or 0),
                                    int(picture.get("height") or 0))
            item.has_size = annotation.width > 0 and annotation.height > 0
            for entry in by_image.get(picture.get("id"), []):
                box, issue = _box(entry, names, item.xml)
                if box is None:
                    item.problems.append(issue)
                else:
                    annotation.boxes.append(box)
            unsafe = discover.unsafe_reason(file_name)
            if unsafe:
                item.problems.append(problem(item.xml, "unsafe_filename", unsafe))
                continue
            image_path, how = finder.find(json_path, file_name)
            if how != discover.PAIRED_BY_FILENAME:  # by the JSON's name: meaningless here
                image_path = None
            if image_path is None:
                if file_name:  # searched further once every picture is known (pairing.py)
                    item.wanted, item.annotation = file_name, annotation
                else:
                    item.problems.append(problem(item.xml, "missing_image", "no file_name"))
                continue
            worker.accept(item, annotation, image_path, worker.relative(image_path, found.roots))
    return items
