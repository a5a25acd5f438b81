"""Sliced inference (the SAHI approach): a model trained on tiles sees a large picture
tile by tile (data/tiles.py's grid) and once whole; the boxes go back to the
picture's pixels and overlapping detections of one class are merged by NMS."""
from __future__ import annotations

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
MAX_DETECTIONS = 300


def merge(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, threshold: float = MERGE_IOU,
          limit: int = MAX_DETECTIONS) -> np.ndarray:
    """Indices kept by per-class greedy NMS (best score first), at most `limit`.
    Boxes are (ymin, xmin, ymax, xmax) in one picture's pixels."""
    kept = []
    for label in np.unique(classes):
        members = np.flatnonzero(classes == label)
        members = members[np.argsort(-scores[members], kind="stable")]
        overlaps = pairwise(boxes[members], boxes[members])
        alive = np.ones(len(members), bool)
        for i in range(len(members)):
            if alive[i]:
                kept.append(members[i])
                alive[i + 1:] &= overlaps[i, i + 1:] <= threshold
    kept = np.array(kept, np.int64)
    return kept[np.argsort(-scores[kept], kind="stable")][:limit]


def detect_tiled(model: ExportedModel, pixels: np.ndarray, size: int, overlap: float
                 ) -> Detections:
    """Every detection of `model` on one picture ([H, W, 3] uint8) by tiles of `size`
    and the whole picture, merged, in the picture's pixels."""
    height, width = pixels.shape[:2]
    windows = tiles.grid(width, height, size, overlap)
    found = []
    for x0, y0, x1, y1 in windows:
        part = detect_picture(model, np.ascontiguousarray(pixels[y0:y1, x0:x1]), resize=True)
        found.append(Detections(part.yxyx + np.array([y0, x0, y0, x0], np.float32),
                                part.scores, part.classes))
    if len(windows) > 1:  # large objects, which no tile holds whole
        found.append(detect_picture(model, pixels, resize=True))
    boxes = np.concatenate([d.yxyx for d in found])
    scores = np.concatenate([d.scores for d in found])
    classes = np.concatenate([d.classes for d in found])
    keep = merge(boxes, scores, classes)
    return Detections(boxes[keep], scores[keep], classes[keep])


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
