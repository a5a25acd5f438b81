"""What the worker processes do: inspect one annotation, write one shard.

Both run in a process pool (or in-process for small inputs). The pool's
initializer installs the shared, read-only context (file index, classes,
options) once per worker.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from odhelper.data import example, images, recordio, voc
from odhelper.data.annotation import Box
from odhelper.data.discover import FileIndex, ImageFinder, unsafe_reason
from odhelper.data.problems import Problem, problem

_context: dict = {}


@dataclass
class Context:
    index: FileIndex
    images_dir: Path | None
    classes: frozenset[str] | None  # from a given label map, else None (all kept)
    skip_difficult: bool
    verify_pixels: bool


@dataclass
class Item:
    """One annotated image after inspection (small: no pixel data)."""
    xml: str  # path relative to the input root
    image_path: str | None = None
    image_name: str = ""  # path relative to its root (unique), used as source_id
    width: int = 0
    height: int = 0
    boxes: list[Box] = field(default_factory=list)
    sha256: str = ""
    nbytes: int = 0
    format: str = ""
    mode: str = ""
    rotate: bool = False
    problems: list[Problem] = field(default_factory=list)
    usable: bool = False


def install(context: Context) -> None:
    _context["ctx"] = context
    _context["finder"] = ImageFinder(context.index, context.images_dir)


def install_in_pool(context: Context) -> None:
    """A pool worker's initializer: the context, and glibc told to keep freed memory.
    Each image is read into a new buffer; by default glibc hands large freed blocks
    back to the kernel and the next read faults fresh pages in again, which cost the
    write phase 2.3 s of system time per GB here (halved with this)."""
    install(context)
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 256 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def _relative(path: str, roots: list[Path]) -> str:
    for root in roots:
        prefix = str(root) + os.sep
        if path.startswith(prefix):
            return path[len(prefix):].replace(os.sep, "/")
    return os.path.basename(path)


def _size_problems(file: str, xml_size, has_size: bool, width: int, height: int
                   ) -> list[Problem]:
    """The XML's <size> against the stored pixels (which win)."""
    if not has_size:
        return [problem(file, "size_missing", f"no usable <size>; image is {width}x{height}")]
    if xml_size != (width, height):
        return [problem(file, "size_mismatch", f"<size> says {xml_size[0]}x{xml_size[1]}, "
                                               f"image is {width}x{height}")]
    return []


def inspect(xml_path: str) -> Item:
    """Parse, find the image, probe it, check the boxes. Never raises for bad input:
    even an unforeseen error in a parser costs only this file."""
    try:
        return _inspect(xml_path)
    except Exception as exc:  # noqa: BLE001 - reported, never fatal for the others
        rel = _relative(xml_path, _context["ctx"].index.roots)
        return Item(xml=rel, problems=[problem(
            rel, "unreadable_image", f"unexpected {type(exc).__name__}: {exc}")])


def _inspect(xml_path: str) -> Item:
    ctx: Context = _context["ctx"]
    rel = _relative(xml_path, ctx.index.roots)
    item = Item(xml=rel)
    try:
        with open(xml_path, "rb") as stream:
            annotation, has_size, item.problems = voc.parse(stream.read(), rel)
    except voc.VocError as exc:
        item.problems = [exc.problem]
        return item
    except OSError as exc:
        item.problems = [problem(rel, "malformed_xml", f"cannot read: {exc}")]
        return item
    unsafe = unsafe_reason(annotation.filename)
    if unsafe:
        item.problems.append(problem(rel, "unsafe_filename", unsafe))
        return item
    image_path = _context["finder"].find(xml_path, annotation.filename)
    if image_path is None:
        item.problems.append(problem(rel, "missing_image",
                                     f"no image for <filename> {annotation.filename!r} "
                                     "or the XML's name"))
        return item
    item.image_path = image_path
    item.image_name = _relative(image_path, ctx.index.roots)
    try:
        with open(image_path, "rb", buffering=0) as stream:
            data = stream.read()
        probe = images.probe(data, ctx.verify_pixels)
    except OSError as exc:
        item.problems.append(problem(rel, "unreadable_image", f"{item.image_name}: {exc}"))
        return item
    except images.ImageProblem as exc:
        item.problems.append(problem(rel, exc.reason, f"{item.image_name}: {exc}"))
        return item
    xml_size = (annotation.width, annotation.height) if has_size else None
    item.rotate, note = images.decide_rotation(probe, xml_size)
    width, height = images.oriented_size(probe) if item.rotate else (probe.raw_width,
                                                                      probe.raw_height)
    if note:
        item.problems.append(problem(rel, "exif_rotated", note))
    item.problems += _size_problems(rel, xml_size, has_size, width, height)
    if item.rotate and not probe.decoded:  # re-encoded later: fail here, not while writing
        try:
            images.check_decodes(data)
        except images.ImageProblem as exc:
            item.problems.append(problem(rel, exc.reason, f"{item.image_name}: {exc}"))
            return item
    if images.needs_reencode(probe.format, probe.mode, item.rotate):
        item.problems.append(problem(rel, "converted_image", images.describe_conversion(
            probe.format, probe.mode, item.rotate)))
    elif probe.mode == "L":
        item.problems.append(problem(rel, "grayscale_image", f"{probe.format} {probe.mode}"))
    item.boxes, box_problems = voc.check_boxes(annotation, rel, width, height, ctx.classes,
                                               ctx.skip_difficult)
    item.problems += box_problems
    item.width, item.height, item.sha256, item.nbytes = width, height, probe.sha256, probe.nbytes
    item.format, item.mode, item.usable = probe.format, probe.mode, True
    return item


def inspect_many(xml_paths: list[str]) -> list[Item]:
    return [inspect(path) for path in xml_paths]


def encode_item(item: Item, label_ids: dict[str, int]) -> list[bytes]:
    with open(item.image_path, "rb", buffering=0) as stream:
        data = stream.read()
    encoded, fmt = images.stored_bytes(data, item.format, item.mode, item.rotate)
    if encoded is data:
        sha = item.sha256
    else:
        import hashlib
        sha = hashlib.sha256(encoded).hexdigest()
    return example.detection_chunks(
        encoded=encoded, image_format=fmt, width=item.width, height=item.height,
        filename=os.path.basename(item.image_name), source_id=item.image_name, sha256=sha,
        boxes=item.boxes, label_ids=label_ids)


def _encoded(items: list[Item], label_ids: dict[str, int], failed: list[dict]):
    """Each item's record; one that cannot be encoded now (changed on disk since
    inspection, undecodable when re-encoding) is skipped and listed in `failed`."""
    for item in items:
        try:
            yield encode_item(item, label_ids)
        except Exception as exc:  # noqa: BLE001 - costs only this image
            failed.append({"xml": item.xml, "image": item.image_name,
                           "detail": f"{type(exc).__name__}: {exc}"})


def write_shard(target: str, items: list[Item], label_ids: dict[str, int]) -> dict:
    """Write one shard to a temp file beside `target`; return its temp path, size and
    the items that failed to encode."""
    temp = recordio.temp_path(Path(target))
    failed: list[dict] = []
    with open(temp, "wb") as stream:
        written = recordio.write_records(stream, _encoded(items, label_ids, failed))
    return {"target": target, "temp": str(temp), "records": len(items) - len(failed),
            "bytes": written, "failed": failed}
