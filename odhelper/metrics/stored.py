"""Per-picture results of one evaluation (ground truth and detections) on disk, so a
checkpoint scored once is never scored again: the tables, the operating points and
the SavedModel's row of the artifact check read them back.

One .npz per evaluation: the pictures' names and sizes, and every array of all
pictures concatenated, with each picture's offsets.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from odhelper import files
from odhelper.detections import Detections
from odhelper.metrics.matching import ImageResult

_PARTS = {"gt_boxes": lambda r: r.gt_boxes, "gt_classes": lambda r: r.gt_classes,
          "gt_difficult": lambda r: r.gt_difficult, "det_boxes": lambda r: r.detections.yxyx,
          "det_scores": lambda r: r.detections.scores,
          "det_classes": lambda r: r.detections.classes}


def save(results: Sequence[ImageResult], path: Path, **facts) -> Path:
    """Write `results` (and scalar `facts` such as the checkpoint) to `path`, atomically."""
    arrays = {"names": np.array([r.image_id for r in results], dtype=object).astype(str),
              "sizes": np.array([[r.width, r.height] for r in results], np.int64).reshape(-1, 2)}
    for part in ("gt", "det"):
        counts = [len(_PARTS[f"{part}_boxes"](r)) for r in results]
        arrays[f"{part}_offsets"] = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    for name, value_of in _PARTS.items():
        values = [value_of(r) for r in results]
        arrays[name] = np.concatenate(values) if values else np.zeros((0,))
    for key, value in facts.items():
        arrays[f"fact_{key}"] = np.array(value)
    with files.atomic_path(path, suffix=".npz") as temp:
        with open(temp, "wb") as stream:
            np.savez_compressed(stream, **arrays)
    return Path(path)


def load(path: Path) -> tuple[list[ImageResult], dict]:
    """The results and the facts saved with them."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    results = []
    gt, det = arrays["gt_offsets"], arrays["det_offsets"]
    for index, name in enumerate(arrays["names"]):
        g, d = slice(gt[index], gt[index + 1]), slice(det[index], det[index + 1])
        width, height = (int(v) for v in arrays["sizes"][index])
        results.append(ImageResult(
            str(name), width, height, arrays["gt_boxes"][g], arrays["gt_classes"][g],
            Detections(arrays["det_boxes"][d], arrays["det_scores"][d],
                       arrays["det_classes"][d]), arrays["gt_difficult"][g]))
    facts = {key[5:]: arrays[key].item() for key in arrays if key.startswith("fact_")}
    return results, facts
