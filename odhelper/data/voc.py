"""Read a LabelImg / Pascal VOC XML into an `Annotation`, and check its boxes.

Parsing never raises: each problem becomes a named `Problem`. Boxes are checked
against the real pixel size (which wins over `<size>`), after the image is probed.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from odhelper.data.annotation import Annotation, Box
from odhelper.data.problems import Problem, problem

DUPLICATE_IOU = 0.95


class VocError(Exception):
    """The file is not a usable annotation; `.problem` says why."""

    def __init__(self, item: Problem):
        super().__init__(item.detail)
        self.problem = item


def _text(element: ET.Element | None, tag: str, default: str = "") -> str:
    value = element.findtext(tag) if element is not None else None  # C, for a plain tag
    return value.strip() if value else default


def _flag(element: ET.Element, tag: str) -> bool:
    value = _text(element, tag, "0").lower()
    return value in ("1", "true", "yes")


def _size(root: ET.Element) -> tuple[int, int, int] | None:
    size = root.find("size")
    if size is None:
        return None
    try:
        width, height = int(float(_text(size, "width"))), int(float(_text(size, "height")))
        depth = int(float(_text(size, "depth", "3") or 3))
    except ValueError:
        return None
    return (width, height, depth) if width > 0 and height > 0 else None


def parse(data: bytes, file: str) -> tuple[Annotation, bool, list[Problem]]:
    """(annotation, whether <size> was usable, problems). Raises VocError if unusable."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise VocError(problem(file, "malformed_xml", str(exc))) from None
    if root.tag != "annotation":
        raise VocError(problem(file, "not_an_annotation",
                               f"root element is <{root.tag}>, not <annotation>"))
    problems: list[Problem] = []
    size = _size(root)
    width, height, depth = size or (0, 0, 3)
    verified = root.get("verified")
    annotation = Annotation(
        filename=_text(root, "filename"), width=width, height=height, depth=depth,
        folder=_text(root, "folder"),
        verified=None if verified is None else verified.lower() == "yes")
    for number, obj in enumerate(root.iter("object"), start=1):
        name = _text(obj, "name")
        where = f"object {number}" + (f" ({name!r})" if name else "")
        if not name:
            problems.append(problem(file, "empty_class_name", f"{where} has no <name>"))
            continue
        bndbox = obj.find("bndbox")
        try:
            coords = [float(_text(bndbox, tag)) for tag in ("xmin", "ymin", "xmax", "ymax")]
        except ValueError:
            problems.append(problem(file, "bad_coordinates",
                                    f"{where}: missing or non-numeric <bndbox> values"))
            continue
        if any(c != c or c in (float("inf"), float("-inf")) for c in coords):
            problems.append(problem(file, "bad_coordinates", f"{where}: {coords}"))
            continue
        annotation.boxes.append(Box(name, *coords, difficult=_flag(obj, "difficult"),
                                    truncated=_flag(obj, "truncated"),
                                    pose=_text(obj, "pose", "Unspecified") or "Unspecified"))
    return annotation, size is not None, problems


def _iou(a: Box, b: Box) -> float:
    width = min(a.xmax, b.xmax) - max(a.xmin, b.xmin)
    height = min(a.ymax, b.ymax) - max(a.ymin, b.ymin)
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a.xmax - a.xmin) * (a.ymax - a.ymin) + (b.xmax - b.xmin) * (b.ymax - b.ymin) - inter
    return inter / union if union > 0 else 0.0


def check_boxes(annotation: Annotation, file: str, width: int, height: int,
                classes: frozenset[str] | None, skip_difficult: bool
                ) -> tuple[list[Box], list[Problem]]:
    """Boxes fit for training on a `width` x `height` image, and what was done to the rest.

    Accepts the VOC convention (1-based, inclusive) and 0-based boxes alike: a box
    is clipped to [0, width] x [0, height]; only a box that lies entirely outside
    or has no area is dropped.
    """
    kept: list[Box] = []
    problems: list[Problem] = []
    for number, box in enumerate(annotation.boxes, start=1):
        def where() -> str:
            return (f"object {number} ({box.name!r}) [{box.xmin:g}, {box.ymin:g}, "
                    f"{box.xmax:g}, {box.ymax:g}]")
        if classes is not None and box.name not in classes:
            problems.append(problem(file, "unknown_class", where()))
            continue
        if skip_difficult and box.difficult:
            problems.append(problem(file, "difficult_skipped", where()))
            continue
        if box.xmax <= box.xmin or box.ymax <= box.ymin:
            problems.append(problem(file, "box_degenerate", where()))
            continue
        if box.xmax <= 0 or box.ymax <= 0 or box.xmin >= width or box.ymin >= height:
            problems.append(problem(file, "box_outside_image", f"{where()} on {width}x{height}"))
            continue
        if box.xmin < 0 or box.ymin < 0 or box.xmax > width or box.ymax > height:
            problems.append(problem(file, "box_clipped", f"{where()} on {width}x{height}"))
            box = replace(box, xmin=max(box.xmin, 0.0), ymin=max(box.ymin, 0.0),
                          xmax=min(box.xmax, float(width)), ymax=min(box.ymax, float(height)))
        kept.append(box)
    for i, first in enumerate(kept):
        for second in kept[i + 1:]:
            if first.name == second.name and _iou(first, second) > DUPLICATE_IOU:
                problems.append(problem(
                    file, "duplicate_box",
                    f"two {first.name!r} boxes overlap with IoU {_iou(first, second):.3f}"))
    return kept, problems
