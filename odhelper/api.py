"""odhelper from Python (notebooks, scripts): each command as a function whose keyword
names are its long flags (`split_ratio="8,1,1"` for `--split-ratio 8,1,1`), returning
the command's result object; `load` for inference. Nothing is printed on stdout:
messages go through the `logging` module (logger "odhelper") and into the folder's
odhelper.log; the host program's logging configuration is left as it is.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from odhelper.options.fields import from_keywords

_log = logging.getLogger("odhelper")


def tfrecord(**options) -> dict:
    """`odhelper tfrecord`: returns the dataset's summary (the dataset.json content)."""
    from odhelper.data.build import build_dataset
    from odhelper.options.data import TfrecordOptions

    return build_dataset(from_keywords(TfrecordOptions, options))


def run(**options):
    """`odhelper run`: returns a workflows.run.RunResult (final step, best metrics,
    evaluation history, export folder)."""
    from odhelper.options.training import RunOptions
    from odhelper.workflows.run import run as run_training

    result = run_training(from_keywords(RunOptions, options))
    if result.exported is not None and result.exported.error():
        raise result.exported.error()
    return result


def evaluate(**options):
    """`odhelper evaluate`: returns a workflows.evaluate.Evaluation (per-class table,
    metrics, operating points)."""
    from odhelper.options.inference import EvaluateOptions
    from odhelper.workflows.evaluate import evaluate as evaluate_run

    return evaluate_run(from_keywords(EvaluateOptions, options))


def audit(**options):
    """`odhelper audit`: returns a workflows.audit.AuditResult (pictures ranked by how
    likely their boxes are wrong, data health, the files written)."""
    from odhelper.options.audit import AuditOptions
    from odhelper.workflows.audit import audit as audit_data

    return audit_data(from_keywords(AuditOptions, options))


def export(**options):
    """`odhelper export`: returns a workflows.export.ExportResult."""
    from odhelper.options.inference import ExportOptions
    from odhelper.rundir import RunDir
    from odhelper.workflows.export import export_run

    chosen = from_keywords(ExportOptions, options)
    result = export_run(RunDir(chosen.run_dir), chosen)
    if result.error():
        raise result.error()
    return result


@dataclass
class Result:
    """What the detector found on one picture: `boxes` (N x 4, xmin, ymin, xmax, ymax
    pixels), `scores`, `class_ids` (label-map ids) and `class_names`, one per box."""
    path: str | None  # None for a picture given as an array
    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    class_names: list[str]
    _pixels: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.scores)

    def plot(self) -> np.ndarray:
        """The picture with its boxes drawn (an RGB array, H x W x 3)."""
        from PIL import Image

        from odhelper.detections import Detections
        from odhelper.report.draw import draw_detections, open_rgb

        image = Image.fromarray(self._pixels) if self._pixels is not None \
            else open_rgb(self.path)
        found = Detections.from_xyxy(self.boxes, self.scores, self.class_ids)
        names = dict(zip(self.class_ids.tolist(), self.class_names))
        return np.asarray(draw_detections(image, found, names))


class Detector:
    """An exported model (run folder, SavedModel, .tflite or .onnx) with the per-class
    thresholds shipped beside it."""

    def __init__(self, path):
        from odhelper.engine import predictor

        self.model = predictor.load_model(Path(path))
        self.class_names = dict(self.model.class_names)

    def predict(self, source, threshold: float | None = None) -> list[Result]:
        """One Result per picture of `source`: a picture's path, a folder, a list of
        paths and/or RGB arrays (H x W x 3, uint8), or one array. The per-class
        thresholds apply unless `threshold` (one value for every class) is given.
        An unreadable picture is left out with a warning naming it."""
        from odhelper import thresholds

        rule = thresholds.decide(self.model.folder, threshold)
        items = [source] if isinstance(source, (str, os.PathLike, np.ndarray)) else list(source)
        results: list[Result] = []
        paths: list[Path] = []
        for item in items + [None]:  # None: the end, the pending paths go first
            if isinstance(item, np.ndarray) or item is None:
                results.extend(self._from_paths(paths, rule))
                paths = []
                if item is not None:
                    results.append(self._from_array(item, rule))
            else:
                paths.extend(_pictures(Path(item)))
        return results

    def _from_array(self, pixels: np.ndarray, rule) -> Result:
        from odhelper.engine import predictor

        pixels = np.asarray(pixels)
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(f"expected an RGB picture (H x W x 3), got shape {pixels.shape}")
        pixels = pixels.astype(np.uint8, copy=False)
        found = rule.apply(predictor.detect_picture(self.model, pixels, resize=True),
                           self.class_names)
        return _result(None, found, self.class_names, pixels)

    def _from_paths(self, paths: list[Path], rule) -> Iterable[Result]:
        from odhelper.engine import predictor

        if not paths:
            return []
        resolved = [p.resolve() for p in paths]
        root = resolved[0] if len(resolved) == 1 else Path(os.path.commonpath(resolved))
        problems: list = []
        found = []
        for prediction in predictor.detect(self.model, resolved, root, problems, rule):
            path = root if len(resolved) == 1 else root / prediction.name
            found.append(_result(str(path), prediction.detections, self.class_names))
        for problem in problems:
            _log.warning("%s: %s (%s)", problem.file, problem.detail, problem.reason)
        return found


def _pictures(path: Path) -> list[Path]:
    from odhelper.engine import predictor

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such picture or folder")
    found = predictor.list_images(path)
    if path.is_dir() and not found:
        _log.warning("%s: no pictures in this folder", path)
    return found


def _result(path, found, names, pixels=None) -> Result:
    return Result(path, found.xyxy, found.scores, found.classes, found.names(names), pixels)


def load(path) -> Detector:
    """The detector exported at `path`: a run folder, an export folder, a SavedModel
    folder, a .tflite or a .onnx file."""
    return Detector(path)
