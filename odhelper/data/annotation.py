"""The in-memory form of one LabelImg / Pascal VOC annotation, and its XML writer.

Boxes are in pixels, VOC convention (xmin, ymin, xmax, ymax). The writer's
output opens in LabelImg and reads back through our own VOC reader.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files


@dataclass
class Box:
    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    difficult: bool = False
    truncated: bool = False
    pose: str = "Unspecified"
    score: float | None = None  # set on machine-made boxes (predict, active learning)


@dataclass
class Annotation:
    filename: str
    width: int
    height: int
    depth: int = 3
    boxes: list[Box] = field(default_factory=list)
    folder: str = ""
    verified: bool | None = None  # LabelImg's <annotation verified="yes">
    source: str | None = None  # e.g. "odhelper predict" on machine-made files
    path: str = ""  # the picture's full path (LabelImg's <path>); "" writes the filename


def _pixels(box: Box) -> list[int]:
    """Whole pixels, as LabelImg writes them (and older readers need)."""
    return [int(round(v)) for v in (box.xmin, box.ymin, box.xmax, box.ymax)]


def to_xml(annotation: Annotation) -> str:
    """LabelImg-compatible Pascal VOC XML text."""
    root = ET.Element("annotation")
    if annotation.verified is not None:
        root.set("verified", "yes" if annotation.verified else "no")
    ET.SubElement(root, "folder").text = annotation.folder
    ET.SubElement(root, "filename").text = annotation.filename
    ET.SubElement(root, "path").text = annotation.path or annotation.filename
    source = ET.SubElement(root, "source")
    ET.SubElement(source, "database").text = annotation.source or "Unknown"
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(annotation.width)
    ET.SubElement(size, "height").text = str(annotation.height)
    ET.SubElement(size, "depth").text = str(annotation.depth)
    ET.SubElement(root, "segmented").text = "0"
    for box in annotation.boxes:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = box.name
        ET.SubElement(obj, "pose").text = box.pose
        ET.SubElement(obj, "truncated").text = str(int(box.truncated))
        ET.SubElement(obj, "difficult").text = str(int(box.difficult))
        if box.score is not None:
            ET.SubElement(obj, "score").text = f"{box.score:.4f}"
        bndbox = ET.SubElement(obj, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), _pixels(box)):
            ET.SubElement(bndbox, tag).text = str(value)
    ET.indent(root, space="\t")
    return ET.tostring(root, encoding="unicode") + "\n"


def write_xml(annotation: Annotation, path: str | Path) -> Path:
    """Write the annotation atomically; return the path."""
    files.write_text(path, to_xml(annotation))
    return Path(path)
