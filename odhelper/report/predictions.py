"""Write what `odhelper predict` found: drawn pictures, detections.csv, LabelImg XML.
`names` is the model's label map (class id -> name)."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Mapping

from odhelper import files
from odhelper.data.annotation import Annotation, Box, write_xml
from odhelper.detections import Prediction
from odhelper.report.draw import draw_detections, open_rgb

CSV_NAME = "detections.csv"
CSV_HEADERS = ("filename", "class", "score", "xmin", "ymin", "xmax", "ymax")
SOURCE = "odhelper predict"
XML_FOLDER = "xml"  # predict's LabelImg XMLs, apart from the drawn copies


def csv_rows(prediction: Prediction, names: Mapping[int, str]) -> list[list[str]]:
    found = prediction.detections
    return [[prediction.name, name, f"{s:.4f}"] + [f"{v:.1f}" for v in box]
            for box, s, name in zip(found.xyxy, found.scores, found.names(names))]


def annotation(prediction: Prediction, names: Mapping[int, str], source: Path | None = None
               ) -> Annotation:
    """Machine-made LabelImg annotation (verified="no", source odhelper predict); with
    `source`, its <folder> and <path> name the original picture."""
    found = prediction.detections
    boxes = [Box(name, *(round(float(v), 1) for v in box), score=float(s))
             for box, s, name in zip(found.xyxy, found.scores, found.names(names))]
    folder = source.parent.name if source else Path(prediction.name).parent.name
    return Annotation(Path(prediction.name).name, prediction.width, prediction.height,
                      boxes=boxes, folder=folder, verified=False, source=SOURCE,
                      path=str(source.resolve()) if source else "")


def write_picture(prediction: Prediction, names: Mapping[int, str], source: Path,
                  target: Path) -> None:
    image = draw_detections(open_rgb(source), prediction.detections, names)
    with files.atomic_path(target, suffix=target.suffix) as tmp:
        image.save(tmp, format="PNG" if target.suffix.lower() == ".png" else "JPEG",
                   quality=90)


def write_outputs(prediction: Prediction, names: Mapping[int, str], source: Path, out: Path,
                  draw: bool, xml: bool) -> None:
    """The drawn picture and/or the XML of one prediction, mirroring the input tree; the
    XMLs go to OUT/xml/ (LabelImg: Open Dir on the pictures, Change Save Dir to OUT/xml)."""
    relative = Path(prediction.name)
    if draw:
        suffix = ".png" if relative.suffix.lower() == ".png" else ".jpg"
        write_picture(prediction, names, source, (out / relative).with_suffix(suffix))
    if xml:
        write_xml(annotation(prediction, names, source),
                  (out / XML_FOLDER / relative).with_suffix(".xml"))


def write_csv(rows: list[list[str]], path: Path) -> None:
    with files.atomic_open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(CSV_HEADERS)
        writer.writerows(rows)
