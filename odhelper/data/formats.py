"""Which annotation format `-i` holds (LabelImg / VOC XML, COCO JSON, YOLO text), and
pass 1 for each: every format ends as the same `worker.Item`s, so checks, problems,
split, twins, summary and dataset.json are one path for all.

    detect(options) -> "voc" | "coco" | "yolo"
    index(options) -> FileIndex      (the files looked at, for images and the fingerprint)
    first_pass(options, index, context) -> list[worker.Item]
"""
from __future__ import annotations

from pathlib import Path

from odhelper.data import discover, pairing, pools, worker
from odhelper.errors import OdhelperError
from odhelper.options.data import TfrecordOptions

YOLO_CLASS_FILES = ("data.yaml", "dataset.yaml", "classes.txt")


def coco_files(path: Path) -> list[Path]:
    """The COCO JSON files of `-i`: the file itself, or annotations/*.json (or *.json)."""
    if path.is_file():
        return [path] if path.suffix.lower() == ".json" else []
    for folder in (path / "annotations", path):
        found = sorted(p for p in folder.glob("*.json") if p.is_file()) if folder.is_dir() else []
        if found:
            return found
    return []


def yolo_root(path: Path) -> bool:
    return path.is_dir() and (path / "labels").is_dir() and (path / "images").is_dir() \
        and any((path / name).is_file() for name in YOLO_CLASS_FILES)


def detect(options: TfrecordOptions) -> str:
    if options.format != "auto":
        return options.format
    path = options.input
    if path.is_file():
        if path.suffix.lower() == ".json":
            return "coco"
        raise OdhelperError(f"{path}: give a folder of annotations or a COCO *.json file")
    if yolo_root(path):
        return "yolo"
    if path.is_dir() and not any(path.rglob("*.xml")) and coco_files(path):
        return "coco"
    return "voc"


def _coco_root(path: Path) -> Path:
    """The folder searched for a COCO file's images: above annotations/ if so."""
    folder = path.parent if path.is_file() else path
    return folder.parent if folder.name.lower() == "annotations" else folder


def index(options: TfrecordOptions) -> discover.FileIndex:
    kind = detect(options)
    path = options.input
    if kind == "voc":
        if not path.is_dir():
            raise OdhelperError(f"{path}: not a folder of LabelImg / VOC *.xml files")
        found = discover.build_index(path, options.images)
        if not found.xml_files:
            raise OdhelperError(f"{path}: no *.xml annotations found (searched recursively; "
                                "COCO JSON and YOLO folders are detected, or give --format)")
        return found
    if kind == "coco":
        files = coco_files(path)
        if not files:
            raise OdhelperError(f"{path}: no COCO *.json found (the file itself, or "
                                "annotations/*.json)")
        found = discover.build_index(_coco_root(path), options.images)
        found.xml_files = [str(f.resolve()) for f in files]
    else:
        if not yolo_root(path):
            raise OdhelperError(f"{path}: not a YOLO folder (images/ + labels/ + "
                                f"{' or '.join(YOLO_CLASS_FILES)})")
        found = discover.build_index(path, options.images)
        labels = path.resolve() / "labels"
        found.xml_files = sorted(str(p) for p in labels.rglob("*.txt"))
        found.xml_files += [str(path.resolve() / n) for n in YOLO_CLASS_FILES
                            if (path / n).is_file()]
    found.files = sorted(set(found.files) | set(found.xml_files))  # fingerprinted
    found.kind = kind
    return found


def first_pass(options: TfrecordOptions, found: discover.FileIndex,
               context: worker.Context) -> list[worker.Item]:
    """One item per annotation (per picture for COCO and YOLO); a picture not in its
    annotation's own places is looked for further (pairing.py)."""
    kind = found.kind
    worker.install(context)  # the readers here and the wider search finish items as pass 1 does
    if kind == "yolo":
        from odhelper.data import yolo
        return yolo.read(options.input.resolve(), found)
    if kind == "voc":
        items = pools.first_pass(found, context, options)
    else:
        from odhelper.data import coco
        items = coco.read(found, options.images)
    pairing.resolve(items, found)
    return items
