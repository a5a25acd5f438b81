"""What the worker processes do, in two passes over the input.

1. `read_annotations`: parse each XML, find its image, note its byte size. The
   boxes that survive every check not needing the pixels decide the split and
   the label map; same-size images are kept together (byte-identical twins
   always are the same size). No image is read here, unless twins must be known
   exactly before the split (a kept validation split): then each is hashed.
   Then near_duplicates.py reads each picture for its perceptual hash (decoded
   once per distinct file, at reduced size).
2. `write_shard`: for each image of one shard, read it once, probe it, check the
   boxes against its real pixels, hash it, encode and write its record; a bad
   image is left out with its reason and costs nothing else.

Both run in a process pool (or in-process for small inputs). The pool's
initializer installs the shared, read-only context (file index, classes,
options, and in pass 2 the planned items) once per worker; pass 2 sends back
only what it learnt about each item.
"""
from __future__ import annotations

import gc
import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files
from odhelper.data import example, images, recordio, tiles, voc
from odhelper.data.annotation import Annotation, Box
from odhelper.data.discover import PAIRED_BY_FILENAME, PAIRED_BY_STEM, FileIndex, ImageFinder, \
    unsafe_reason
from odhelper.data.problems import Problem, problem

_context: dict = {}
UNANNOTATED = "odhelper --negatives"  # Annotation.source of a picture without annotation


EXAMPLE_COUNTS = ("records", "box_pieces_dropped", "empty_tiles_left_out")  # per shard


@dataclass
class Context:
    index: FileIndex
    images_dir: Path | None
    classes: frozenset[str] | None  # from a given label map, else None (all kept)
    skip_difficult: bool
    verify_pixels: bool
    background: bool = True  # keep annotations without any object, with zero boxes
    hash_early: bool = False  # hash each image in pass 1 (twins must be exact before the split)
    items: list | None = None  # pass 2: every planned Item (a forked worker inherits them)
    max_pixels: int = 0  # pictures with more are refused (0: no limit)
    tile: int = 0  # cut pictures larger than this into tiles, one example each (tiles.py)
    tile_overlap: float = 0.0
    examples: dict | None = None  # after pass 2: examples written per side, tiles' losses


@dataclass
class Item:
    """One annotated image (small: no pixel data). After pass 1 `boxes` are the
    candidates and `annotation` is kept for pass 2, which sets the rest."""
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
    annotation: Annotation | None = None  # pass 1 -> pass 2 only
    has_size: bool = False  # the XML's <size> was usable
    pairing: str = PAIRED_BY_FILENAME  # how the image was found (discover.PAIRED_*)
    wanted: str = ""  # pass 1: the <filename> not in the annotation's own places (pairing.py)
    source_file: str = ""  # the annotation file's path, if `wanted` or `xml` is not one (COCO)
    picture_hash: tuple[int, int] | None = None  # perceptual (near_duplicates.py), pass 1

    @property
    def twin_key(self) -> str:
        """Items with equal keys may hold identical bytes and go to one side together."""
        return self.sha256 or f"{self.nbytes} bytes"


def install(context: Context) -> None:
    _context["ctx"] = context
    _context["finder"] = ImageFinder(context.index, context.images_dir)


def install_in_pool(context: Context) -> None:
    """A pool worker's initializer: the context, and the garbage collector on (a
    forked worker inherits it paused from build.py)."""
    gc.enable()
    install(context)


def _read(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def relative(path: str, roots: list[Path]) -> str:
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


def _guarded(step, item: Item):
    """`step()`'s result; even an unforeseen error in a parser costs only this file
    (reported on `item`, result None)."""
    try:
        return step()
    except Exception as exc:  # noqa: BLE001 - reported, never fatal for the others
        item.usable = False
        item.problems.append(problem(item.xml, "unreadable_image",
                                     f"unexpected {type(exc).__name__}: {exc}"))
        return None


def read_annotation(xml_path: str) -> Item:
    """Pass 1 for one XML: parse it, find and size its image, keep the candidate boxes."""
    item = Item(xml=relative(xml_path, _context["ctx"].index.roots))
    _guarded(lambda: _read_annotation(xml_path, item), item)
    return item


def read_annotations(xml_paths: list[str]) -> list[Item]:
    return [read_annotation(path) for path in xml_paths]


def _read_annotation(xml_path: str, item: Item) -> None:
    ctx: Context = _context["ctx"]
    rel = item.xml
    try:
        annotation, item.has_size, item.problems = voc.parse(_read(xml_path), rel)
    except voc.VocError as exc:
        item.problems = [exc.problem]
        return
    except OSError as exc:
        item.problems = [problem(rel, "malformed_xml", f"cannot read: {exc}")]
        return
    unsafe = unsafe_reason(annotation.filename)
    if unsafe:
        item.problems.append(problem(rel, "unsafe_filename", unsafe))
        return
    image_path, item.pairing = _context["finder"].find(xml_path, annotation.filename)
    if image_path is None:
        if annotation.filename:  # searched further once every annotation is read
            item.wanted, item.source_file, item.annotation = (annotation.filename, xml_path,
                                                              annotation)
        else:
            item.problems.append(problem(rel, "missing_image", "no <filename>, and no "
                                         "picture named like the XML in its folders"))
        return
    accept(item, annotation, image_path, relative(image_path, ctx.index.roots))
    if item.pairing == PAIRED_BY_STEM:
        item.problems.append(problem(rel, "paired_by_name", (
            f"<filename> {annotation.filename!r} not found in the XML's folders; "
            f"paired with {item.image_name}, named like the XML or <filename>")))


def is_background(annotation: Annotation) -> bool:
    """A picture annotated with no object at all (not one whose boxes were all dropped)."""
    return not annotation.boxes


def accept(item: Item, annotation: Annotation, image_path: str, image_name: str) -> None:
    """The rest of pass 1 once an annotation (of any format) and its image are known."""
    ctx: Context = _context["ctx"]
    rel = item.xml
    item.image_path, item.image_name = image_path, image_name
    # The boxes that pass every check but the pixel size's (pass 2 checks them all).
    item.boxes, early = voc.check_boxes(annotation, rel, math.inf, math.inf, ctx.classes,
                                        ctx.skip_difficult)
    if not item.boxes and not (ctx.background and is_background(annotation)):
        item.problems += early + [problem(rel, "no_objects", "no boxes left to train on")]
        return  # nothing to train on: the image is not read
    try:
        if ctx.hash_early:
            data = _read(image_path)
            item.sha256, item.nbytes = hashlib.sha256(data).hexdigest(), len(data)
        else:
            item.nbytes = os.stat(image_path).st_size
    except OSError as exc:
        item.problems.append(problem(rel, "unreadable_image", f"{item.image_name}: {exc}"))
        return
    item.annotation, item.usable = annotation, True


def inspect_image(item: Item) -> bytes | None:
    """Pass 2 for one image: read and probe it, check the boxes against its pixels.
    The image's bytes, or None (with the reason in `item.problems`) if unusable."""
    data = _guarded(lambda: _inspect_image(item), item)
    if data is not None and not item.boxes:
        if _context["ctx"].background and is_background(item.annotation):
            item.problems.append(problem(item.xml, "negative_image", item.image_name))
        else:
            item.problems.append(problem(item.xml, "no_objects", "no boxes left to train on"))
            item.usable, data = False, None
    item.annotation = None  # not needed any more; keeps the way back to the parent small
    return data


def _inspect_image(item: Item) -> bytes | None:
    ctx: Context = _context["ctx"]
    rel, annotation = item.xml, item.annotation
    item.usable = False
    try:
        data = _read(item.image_path)
        probe = images.probe(data, ctx.verify_pixels, ctx.max_pixels)
    except OSError as exc:
        item.problems.append(problem(rel, "unreadable_image", f"{item.image_name}: {exc}"))
        return None
    except images.ImageProblem as exc:
        item.problems.append(problem(rel, exc.reason, f"{item.image_name}: {exc}"))
        return None
    xml_size = (annotation.width, annotation.height) if item.has_size else None
    item.rotate, note = images.decide_rotation(probe, xml_size)
    width, height = images.oriented_size(probe) if item.rotate else (probe.raw_width,
                                                                      probe.raw_height)
    if note:
        item.problems.append(problem(rel, "exif_rotated", note))
    if annotation.source != UNANNOTATED:  # a --negatives picture has no size to compare
        item.problems += _size_problems(rel, xml_size, item.has_size, width, height)
    if item.rotate and not probe.decoded:  # re-encoded below: fail as a bad image here
        try:
            images.check_decodes(data)
        except images.ImageProblem as exc:
            item.problems.append(problem(rel, exc.reason, f"{item.image_name}: {exc}"))
            return None
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
    return data


def encode_item(item: Item, data: bytes, label_ids: dict[str, int]) -> list[bytes]:
    encoded, fmt = images.stored_bytes(data, item.format, item.mode, item.rotate)
    sha = item.sha256 if encoded is data else hashlib.sha256(encoded).hexdigest()
    return example.detection_chunks(
        encoded=encoded, image_format=fmt, width=item.width, height=item.height,
        filename=os.path.basename(item.image_name), source_id=item.image_name, sha256=sha,
        boxes=item.boxes, label_ids=label_ids)


def encode_tiles(item: Item, data: bytes, label_ids: dict[str, int], train: bool,
                 counts: dict[str, int]) -> list[list[bytes]]:
    """One example per tile of the picture (tiles.py), named `name@x,y`; `counts`
    adds the box pieces dropped and the empty training tiles left out."""
    ctx: Context = _context["ctx"]
    encoded, _ = images.stored_bytes(data, item.format, item.mode, item.rotate)
    found, dropped = [], [0]
    for window, jpeg in tiles.windows_of(encoded, item.width, item.height, ctx.tile,
                                         ctx.tile_overlap):
        name = f"{item.image_name}@{window[0]},{window[1]}"
        boxes = tiles.clipped(item.boxes, window, dropped)
        if train and not boxes and not tiles.keeps_empty(name):
            counts["empty_tiles_left_out"] += 1
            continue
        found.append(example.detection_chunks(
            encoded=jpeg, image_format="jpeg", width=window[2] - window[0],
            height=window[3] - window[1], filename=os.path.basename(name), source_id=name,
            sha256=hashlib.sha256(jpeg).hexdigest(), boxes=boxes, label_ids=label_ids))
    counts["box_pieces_dropped"] += dropped[0]
    return found


def _records(items: list[Item], label_ids: dict[str, int], counts: dict[str, int],
             train: bool):
    """Each usable item's record (its tiles' with --tile); an unusable one is skipped
    (its reasons are on it). `counts` counts the examples (and the tiles' losses)."""
    tiled = _context["ctx"].tile
    for item in items:
        data = inspect_image(item)
        if data is None:
            continue
        try:
            examples = encode_tiles(item, data, label_ids, train, counts) if tiled else \
                [encode_item(item, data, label_ids)]
        except Exception as exc:  # noqa: BLE001 - costs only this image
            item.usable = False
            item.problems.append(problem(item.xml, "failed_while_writing",
                                         f"{item.image_name}: {type(exc).__name__}: {exc}"))
            continue
        counts["records"] += len(examples)
        yield from examples


def _outcome(item: Item, candidates: list[Box]) -> tuple:
    """What pass 2 learnt about an item (its boxes only if they changed)."""
    same = len(item.boxes) == len(candidates) and all(
        a is b for a, b in zip(item.boxes, candidates))
    return (item.usable, item.width, item.height, item.sha256, item.nbytes, item.format,
            item.mode, item.rotate, None if same else item.boxes, item.problems)


def apply_outcome(item: Item, outcome: tuple) -> None:
    (item.usable, item.width, item.height, item.sha256, item.nbytes, item.format,
     item.mode, item.rotate, boxes, item.problems) = outcome
    if boxes is not None:
        item.boxes = boxes


def write_shard(target: str, numbers: list[int], label_ids: dict[str, int]) -> dict:
    """Write one shard, of the context's items at `numbers`, to a temp file beside
    `target`. Returns its temp path, size and each item's outcome (`usable` says
    whether its record was written)."""
    items = [_context["ctx"].items[number] for number in numbers]
    candidates = [item.boxes for item in items]
    temp = recordio.temp_path(Path(target))
    counts = dict.fromkeys(EXAMPLE_COUNTS, 0)
    train = Path(target).name.startswith("train")
    try:
        with open(temp, "wb") as stream:
            written = recordio.write_records(stream, _records(items, label_ids, counts, train))
    except OSError as exc:  # a full disk: the parent removes the temp shards
        raise files.named(exc, target) from None
    return {"target": target, "temp": str(temp), "bytes": written, **counts,
            "outcomes": [_outcome(item, boxes) for item, boxes in zip(items, candidates)]}
