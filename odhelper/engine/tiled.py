"""Sliced inference (the SAHI approach): a model trained on tiles sees a large picture
tile by tile (data/tiles.py's grid) and once whole; the boxes go back to the
picture's pixels and overlapping detections of one class are merged by NMS.

Two kinds of detection are partial views of what another view sees better: a tile's
box touching the tile's inner edge (an object the edge cuts; a neighbouring tile
holds it whole when it is smaller than the tiles' overlap), and a whole-picture box
of an object small enough for a tile to hold (the tile sees it at a larger scale).
Cut boxes are merged after the others and dropped when mostly inside a kept box of
their class; whole-picture boxes count only for objects larger than the overlap."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from odhelper.data import tiles
from odhelper.data.problems import Problem, problem
from odhelper.detections import Detections, Prediction
from odhelper.engine.predictor import ExportedModel, detect_picture
from odhelper.metrics.matching import iou as pairwise
from odhelper.thresholds import ScoreRule

MERGE_IOU = 0.5  # detections of one class overlapping more are one object
INSIDE_SHARE = 0.5  # a cut box with this share of its area inside a kept box is part of it
EDGE_PIXELS = 2  # a box this close to a tile's inner edge is cut by it
MAX_DETECTIONS = 300


def _share_inside(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """For each of `others` (ymin, xmin, ymax, xmax), the share of its area inside `box`."""
    height = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    width = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    area = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return height * width / np.maximum(area, 1e-6)


def merge(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
          cut: np.ndarray | None = None, threshold: float = MERGE_IOU,
          limit: int = MAX_DETECTIONS) -> np.ndarray:
    """Indices kept by per-class greedy NMS, best score first, at most `limit`; boxes
    flagged `cut` come after the others of their class and also go when mostly inside
    a kept box. Boxes are (ymin, xmin, ymax, xmax) in one picture's pixels."""
    cut = np.zeros(len(scores), bool) if cut is None else np.asarray(cut, bool)
    kept = []
    for label in np.unique(classes):
        members = np.flatnonzero(classes == label)
        members = members[np.lexsort((-scores[members], cut[members]))]
        overlaps = pairwise(boxes[members], boxes[members])
        alive = np.ones(len(members), bool)
        for i in range(len(members)):
            if alive[i]:
                kept.append(members[i])
                later = members[i + 1:]
                alive[i + 1:] &= (overlaps[i, i + 1:] <= threshold) & ~(cut[later] & (
                    _share_inside(boxes[members[i]], boxes[later]) > INSIDE_SHARE))
    kept = np.array(kept, np.int64)
    return kept[np.argsort(-scores[kept], kind="stable")][:limit]


def cut_by_inner_edges(yxyx: np.ndarray, window: tuple[int, int, int, int], width: int,
                       height: int) -> np.ndarray:
    """Which boxes (picture pixels) touch an edge of `window` inside the picture."""
    x0, y0, x1, y1 = window
    near = EDGE_PIXELS
    return (((yxyx[:, 0] <= y0 + near) & (y0 > 0)) | ((yxyx[:, 1] <= x0 + near) & (x0 > 0))
            | ((yxyx[:, 2] >= y1 - near) & (y1 < height))
            | ((yxyx[:, 3] >= x1 - near) & (x1 < width)))


@dataclass
class Views:
    """Every detection of a picture's tiles and of the whole picture, in its pixels."""
    detections: Detections
    cut: np.ndarray  # a tile's box touching an edge it shares with another tile
    whole: np.ndarray  # found in the whole picture


def views(model: ExportedModel, pixels: np.ndarray, size: int, overlap: float) -> Views:
    """The detections of `model` on one picture ([H, W, 3] uint8) by tiles of `size`,
    and on the whole picture when it is larger than one tile."""
    height, width = pixels.shape[:2]
    windows = tiles.grid(width, height, size, overlap)
    found, cut = [], []
    for window in windows:
        x0, y0, x1, y1 = window
        part = detect_picture(model, np.ascontiguousarray(pixels[y0:y1, x0:x1]), resize=True)
        moved = part.yxyx + np.array([y0, x0, y0, x0], np.float32)
        found.append(Detections(moved, part.scores, part.classes))
        cut.append(cut_by_inner_edges(moved, window, width, height))
    tiled = sum(len(d.scores) for d in found)
    if len(windows) > 1:
        found.append(detect_picture(model, pixels, resize=True))
        cut.append(np.zeros(len(found[-1].scores), bool))
    whole = np.arange(sum(len(d.scores) for d in found)) >= tiled
    return Views(Detections(np.concatenate([d.yxyx for d in found]),
                            np.concatenate([d.scores for d in found]),
                            np.concatenate([d.classes for d in found])),
                 np.concatenate(cut), whole)


def merged(found: Views, size: int, overlap: float) -> Detections:
    """One detection per object: the whole picture's boxes only for objects larger than
    the tiles' overlap, cut boxes after the others (merge)."""
    boxes = found.detections.yxyx
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    used = np.flatnonzero(~found.whole | (sides > tiles.shared_pixels(size, overlap)))
    keep = used[merge(boxes[used], found.detections.scores[used],
                      found.detections.classes[used], found.cut[used])]
    return Detections(boxes[keep], found.detections.scores[keep],
                      found.detections.classes[keep])


def detect_tiled(model: ExportedModel, pixels: np.ndarray, size: int, overlap: float
                 ) -> Detections:
    """Every detection of `model` on one picture ([H, W, 3] uint8) by tiles of `size`
    and the whole picture, merged, in the picture's pixels."""
    return merged(views(model, pixels, size, overlap), size, overlap)


def read_pixels(path: str | Path) -> np.ndarray:
    """A picture as the records hold it and a viewer shows it: EXIF orientation
    applied, RGB."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def detect_pictures(model: ExportedModel, paths: list[Path], root: Path,
                    problems: list[Problem], rule: ScoreRule | None, size: int,
                    overlap: float) -> Iterator[Prediction]:
    """`predict --tile`: one Prediction per readable picture, by tiles and whole,
    with the detections `rule` keeps; a picture that does not decode goes to
    `problems`."""
    for path in paths:
        name = path.relative_to(root).as_posix() if path != root else path.name
        try:
            pixels = read_pixels(path)
        except (OSError, ValueError) as exc:
            problems.append(problem(name, "corrupt_image", str(exc), "picture skipped"))
            continue
        found = detect_tiled(model, pixels, size, overlap)
        if rule is not None:
            found = rule.apply(found, model.class_names)
        yield Prediction(name, pixels.shape[1], pixels.shape[0], found)
