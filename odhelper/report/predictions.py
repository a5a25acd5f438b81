"""Write what `odhelper predict` found: drawn pictures, detections.csv, LabelImg XML."""
from __future__ import annotations

import csv
from pathlib import Path

from odhelper import files
from odhelper.data.annotation import Annotation, Box, write_xml
from odhelper.engine.predictor import ExportedModel, Prediction
from odhelper.report.draw import draw_boxes, open_rgb

CSV_NAME = "detections.csv"
CSV_HEADERS = ("filename", "class", "score", "xmin", "ymin", "xmax", "ymax")
SOURCE = "odhelper predict"


def csv_rows(prediction: Prediction, model: ExportedModel) -> list[list[str]]:
    return [[prediction.name, model.name_of(c), f"{s:.4f}"] + [f"{v:.1f}" for v in box]
            for box, s, c in zip(prediction.boxes, prediction.scores, prediction.classes)]


def annotation(prediction: Prediction, model: ExportedModel) -> Annotation:
    """Machine-made LabelImg annotation (verified="no", source odhelper predict)."""
    boxes = [Box(model.name_of(c), *(round(float(v), 1) for v in box), score=float(s))
             for box, s, c in zip(prediction.boxes, prediction.scores, prediction.classes)]
    return Annotation(Path(prediction.name).name, prediction.width, prediction.height,
                      boxes=boxes, folder=Path(prediction.name).parent.name,
                      verified=False, source=SOURCE)


def write_picture(prediction: Prediction, model: ExportedModel, source: Path,
                  target: Path) -> None:
    image = open_rgb(source)
    labels = [f"{model.name_of(c)} {s:.2f}" for s, c in zip(prediction.scores,
                                                             prediction.classes)]
    draw_boxes(image, prediction.boxes, labels, prediction.classes)
    with files.atomic_path(target, suffix=target.suffix) as tmp:
        image.save(tmp, format="PNG" if target.suffix.lower() == ".png" else "JPEG",
                   quality=90)


def write_outputs(prediction: Prediction, model: ExportedModel, source: Path, out: Path,
                  draw: bool, xml: bool) -> None:
    """The drawn picture and/or the XML of one prediction, mirroring the input tree."""
    relative = Path(prediction.name)
    if draw:
        suffix = ".png" if relative.suffix.lower() == ".png" else ".jpg"
        write_picture(prediction, model, source, (out / relative).with_suffix(suffix))
    if xml:
        write_xml(annotation(prediction, model), (out / relative).with_suffix(".xml"))


def write_csv(rows: list[list[str]], path: Path) -> None:
    with files.atomic_open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(CSV_HEADERS)
        writer.writerows(rows)
