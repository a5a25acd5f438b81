"""Pictures of the error analysis: confusion heat map, P/R/F1-vs-threshold and
precision-recall curves with the operating point marked, FP / miss galleries."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Sequence

import numpy as np

from odhelper import files
from odhelper.metrics.errors import Curve, ErrorAnalysis, OperatingPoint, average_precision
from odhelper.metrics.matching import ImageResult
from odhelper.report import draw, plots

HIGHLIGHT = (255, 215, 0)


def save_png(data: str, path: Path) -> Path:
    """Write a base64 PNG (as plots returns it) to `path`."""
    with files.atomic_open(path, "wb") as stream:
        stream.write(base64.b64decode(data))
    return path


def confusion_heatmap(analysis: ErrorAnalysis) -> str:
    labels = analysis.names + ["background"]
    size = max(4.0, 0.6 * len(labels) + 2)
    figure, axes = plots.plt.subplots(figsize=(size + 1, size))
    matrix = analysis.matrix
    shown = axes.imshow(np.log1p(matrix), cmap="Blues")
    for (row, column), value in np.ndenumerate(matrix):
        axes.text(column, row, str(int(value)), ha="center", va="center", fontsize=8,
                  color="white" if shown.norm(np.log1p(value)) > 0.6 else "black")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"Confusion matrix, score >= {analysis.threshold:g}, IoU >= 0.5")
    return plots.to_base64(figure)


def _grid(count: int, columns: int = 3):
    rows = max(1, -(-count // columns))
    figure, grid = plots.plt.subplots(rows, columns, figsize=(3.6 * columns, 2.9 * rows),
                                      squeeze=False)
    for axes in grid.flat[count:]:
        axes.axis("off")
    return figure, grid.flat


def threshold_curves(curves: Sequence[Curve], points: Sequence[OperatingPoint]) -> str:
    """Per class: precision, recall and F1 against the score threshold; the
    operating point as a dashed line."""
    figure, cells = _grid(len(curves))
    for axes, curve, point in zip(cells, curves, points):
        for values, label in ((curve.precision, "precision"), (curve.recall, "recall"),
                              (curve.f1, "F1")):
            axes.plot(curve.thresholds, values, label=label)
        if len(curve.thresholds):
            axes.axvline(point.threshold, color="k", linestyle="--", linewidth=1)
        axes.set_title(f"{curve.name}: {point.threshold:.2f} ({point.rule})", fontsize=8)
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.05)
        axes.set_xlabel("score threshold", fontsize=8)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=6)
    return plots.to_base64(figure)


def pr_curves(curves: Sequence[Curve], points: Sequence[OperatingPoint]) -> str:
    """The precision-recall curve each class's Pascal AP is computed from."""
    figure, axes = plots.plt.subplots(figsize=(6.5, 4.2))
    for curve, point in zip(curves, points):
        if not len(curve.thresholds):
            continue
        line, = axes.plot(curve.recall, curve.precision,
                          label=f"{curve.name} AP {average_precision(curve):.3f}")
        axes.plot([point.recall], [point.precision], "o", color=line.get_color())
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.05)
    axes.set_title("Precision-recall (dots: operating points)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    return plots.to_base64(figure)


def _crop(image, box, margin: float = 0.6, least: int = 96):
    """The region around a (ymin, xmin, ymax, xmax) pixel box with some context."""
    y0, x0, y1, x1 = box
    half_h = max((y1 - y0) * (1 + margin), least) / 2
    half_w = max((x1 - x0) * (1 + margin), least) / 2
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    left, top = max(0, int(cx - half_w)), max(0, int(cy - half_h))
    return image.crop((left, top, min(image.width, int(cx + half_w)),
                       min(image.height, int(cy + half_h))))


def drawn(image, result: ImageResult, names: dict[int, str], threshold: float,
          focus=None):
    """The picture ([H, W, 3] pixels) with ground truth (white), detections >= threshold
    (colour) and the box in question (gold), cropped around it."""
    from PIL import Image, ImageDraw

    picture = draw.truth_and_detections(Image.fromarray(image), result.gt_boxes,
                                        result.detections.above(threshold), names)
    if focus is None:
        return picture
    y0, x0, y1, x1 = focus
    ImageDraw.Draw(picture).rectangle((x0 - 2, y0 - 2, x1 + 2, y1 + 2), outline=HIGHLIGHT,
                                      width=2)
    return _crop(picture, focus)


def galleries(analysis: ErrorAnalysis, results: Sequence[ImageResult],
              pictures: dict[int, object], categories: Sequence[dict], limit: int,
              place) -> dict[str, dict[str, Path]]:
    """Per class, the `limit` worst false positives and misses as PNG grids in
    `place.galleries`; {class: {kind: path}}. `pictures` maps result index -> its
    pixels (those the galleries need: `needed_pictures`)."""
    names = {c["id"]: c["name"] for c in categories}
    written: dict[str, dict[str, Path]] = {}
    for category in categories:
        class_id, name = category["id"], category["name"]
        entries = {"false_positives": [
            (d.image, results[d.image].detections.yxyx[d.index],
             f"{d.kind.replace('_', ' ')}"
             f"{' (' + names.get(d.true_class, '?') + ')' if d.true_class else ''} "
             f"{d.score:.2f}\n{results[d.image].image_id}")
            for d in analysis.worst_false_positives(class_id, limit)],
            "misses": [(m.image, results[m.image].gt_boxes[m.index],
                        f"missed {name}\n{results[m.image].image_id}")
                       for m in analysis.worst_misses(class_id, limit)]}
        for kind, items in entries.items():
            shown = [(drawn(pictures[i], results[i], names, analysis.threshold, box), title)
                     for i, box, title in items if i in pictures]
            if not shown:
                continue
            grid = plots.image_grid([s[0] for s in shown], [s[1] for s in shown],
                                    columns=min(4, len(shown)))
            written.setdefault(name, {})[kind] = save_png(grid, place.gallery(name, kind))
    return written


def needed_pictures(analysis: ErrorAnalysis, categories: Sequence[dict],
                    limit: int) -> set[int]:
    """Indices of the results the galleries draw."""
    needed = set()
    for category in categories:
        needed |= {d.image for d in analysis.worst_false_positives(category["id"], limit)}
        needed |= {m.image for m in analysis.worst_misses(category["id"], limit)}
    return needed
