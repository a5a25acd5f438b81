"""Write what `odhelper predict` found: drawn pictures, detections.csv, LabelImg XML."""
from __future__ import annotations

import csv
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files, log
from odhelper.data.annotation import Annotation, Box, write_xml
from odhelper.engine.predictor import ExportedModel, Prediction
from odhelper.errors import OdhelperError, UsageError
from odhelper.report.draw import draw_boxes, open_rgb
from odhelper.options.fields import option

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


@dataclass
class PredictOptions:
    model: Path = option(None, "a run dir, an export dir or a saved_model dir", flags=("-m",))
    input: Path = option(None, "a folder of pictures (searched recursively) or one picture",
                         flags=("-i",))
    output: Path = option(None, "folder for the drawn pictures, detections.csv and XML",
                          flags=("-o",))
    threshold: float = option(0.5, "keep detections scoring at least this", flags=("-t",))
    xml: bool = option(False, "also write a LabelImg XML per picture (verified=no)")
    csv: bool = option(True, "write detections.csv")
    draw: bool = option(True, "write each picture with its boxes drawn")
    workers: int = option(0, "serving calls running at once (0 = 2 per core)")

    def __post_init__(self):
        for name in ("model", "input", "output"):
            if getattr(self, name) is None:
                raise UsageError(f"--{name} is required")
            setattr(self, name, Path(getattr(self, name)))
        if not 0.0 <= self.threshold <= 1.0:
            raise UsageError(f"--threshold must be within 0..1, got {self.threshold}")


@dataclass
class PredictResult:
    pictures: int = 0
    detections: int = 0
    seconds: float = 0.0
    problems: list = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.pictures / self.seconds if self.seconds else 0.0


def predict(options: PredictOptions) -> PredictResult:
    """Detect on every picture under options.input; write the chosen outputs."""
    from odhelper.engine import predictor

    started = time.perf_counter()
    model = predictor.load_model(options.model)
    log.info("Loaded %s in %.1f s (input %s, classes: %s)", model.saved_model,
             time.perf_counter() - started, model.input_size or "any size",
             ", ".join(model.class_names.values()) or "numbers only")
    root = options.input if options.input.is_dir() else options.input.parent
    paths = predictor.list_images(options.input)
    if not paths:
        suffixes = ", ".join(sorted(predictor.IMAGE_SUFFIXES))
        raise OdhelperError(f"{options.input}: no pictures ({suffixes})")
    result, rows, pending = PredictResult(), [], []
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        stream = predictor.detect(model, paths, root, result.problems, options.threshold,
                                  options.workers)
        for prediction in log.progress(stream, total=len(paths), desc="predict", unit="img"):
            result.pictures += 1
            result.detections += len(prediction.scores)
            rows.extend(csv_rows(prediction, model))
            if options.draw or options.xml:
                pending.append(pool.submit(write_outputs, prediction, model,
                                           root / prediction.name, options.output,
                                           options.draw, options.xml))
            while len(pending) > 16:
                pending.pop(0).result()
        for job in pending:
            job.result()
    if options.csv:
        write_csv(rows, options.output / CSV_NAME)
    result.seconds = time.perf_counter() - started
    for item in result.problems:
        log.warning("%s: %s (%s): %s", item.file, item.reason, item.detail, item.action)
    return result
