"""Report sections of the error analysis and the test split, from what
`odhelper evaluate` wrote into RUN/eval/ (and RUN/eval/test/)."""
from __future__ import annotations

import csv
import html
import json

from odhelper.metrics import tables
from odhelper.report import markup
from odhelper.rundir import EvalDir, RunDir


def _threshold(place: EvalDir) -> str:
    try:
        return str(json.loads(place.metrics.read_text(encoding="utf-8"))["threshold"])
    except (OSError, ValueError, KeyError):
        return "?"


MISSING = "no error analysis yet: run `odhelper evaluate --run-dir RUN`."


def confusion_section(run_dir: RunDir) -> str:
    place = run_dir.evaluation()
    if not place.confusion_csv.is_file():
        return markup.note(MISSING)
    return (f"<p>Score >= {_threshold(place)}, IoU >= 0.5 (the per-class table's matching). "
            "Rows: true class; columns: predicted class. The background row holds "
            "detections on nothing (poor localisation, duplicates, background), the "
            "background column missed objects.</p>"
            + (markup.png_file(place.confusion_png, "confusion matrix")
               if place.confusion_png.is_file() else "")
            + markup.csv_table(place.confusion_csv)
            + ("<h3>True and false positives, misses</h3>" + markup.csv_table(place.errors_csv)
               if place.errors_csv.is_file() else ""))


def operating_section(run_dir: RunDir) -> str:
    place = run_dir.evaluation()
    if not place.operating_csv.is_file():
        return markup.note(MISSING)
    shipped = (f"<p>Shipped with the model in {html.escape(str(run_dir.thresholds))}; "
               "`odhelper predict` applies them unless --threshold is given.</p>"
               if run_dir.thresholds.is_file() else "")
    pictures = "".join(markup.png_file(path, alt) for path, alt in (
        (place.curves_png, "precision, recall and F1 against the score threshold"),
        (place.pr_png, "precision-recall curves")) if path.is_file())
    return shipped + markup.csv_table(place.operating_csv) + pictures


def gallery_section(run_dir: RunDir) -> str:
    place = run_dir.evaluation()
    found = sorted(place.galleries.glob("*.png")) if place.galleries.is_dir() else []
    if not found:
        return markup.note("no galleries: nothing was wrong, or evaluate ran with --gallery 0.")
    parts = []
    titles = {"false_positives": "worst false positives", "misses": "largest misses"}
    for path in found:
        kind = next((k for k in titles if path.stem.endswith("_" + k)), None)
        if kind is None:
            continue
        name, title = path.stem[:-len(kind) - 1], titles[kind]
        counts = _gallery_counts(place, name)
        parts.append(f"<h3>{html.escape(name)}: {title}</h3><p>{html.escape(counts)}</p>"
                     + markup.png_file(path, path.stem))
    return ("<p>Gold: the box in question; white: ground truth; colour: detections "
            "with scores.</p>" + "".join(parts))


def _gallery_counts(place: EvalDir, name: str) -> str:
    """The class's row of errors.csv in words, beside its gallery."""
    if place.errors_csv.is_file():
        with open(place.errors_csv, newline="", encoding="utf-8") as stream:
            for row in csv.DictReader(stream):
                if row["class"] == name:
                    return (f"{row['TP']} TP, {row['FP']} FP ({row['FP wrong_class']} wrong "
                            f"class, {row['FP localisation']} localisation, {row['FP duplicate']}"
                            f" duplicate, {row['FP background']} background), {row['FN']} FN")
    return ""


def test_split_section(run_dir: RunDir) -> str:
    place = run_dir.evaluation("test")
    table = place.root / tables.CLASS_CSV
    if not table.is_file():
        return markup.note("no test split scored (make one with `odhelper tfrecord -sr 8,1,1`; "
                     "`odhelper evaluate --split test`).")
    try:
        recorded = json.loads(place.metrics.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = {}
    return (f"<p><b>TEST split</b>: {recorded.get('pictures', '?')} pictures never used for "
            f"training, checkpoint choice or thresholds; checkpoint step "
            f"{recorded.get('step', '?')}.</p>" + markup.csv_table(table)
            + ("<h3>Confusion matrix (test)</h3>" + markup.csv_table(place.confusion_csv)
               if place.confusion_csv.is_file() else ""))


SECTIONS = (("confusion", "Confusion matrix and error kinds", confusion_section),
            ("operating-points", "Operating points: P/R/F1 against the score threshold",
             operating_section),
            ("galleries", "Galleries: worst false positives and misses", gallery_section),
            ("test-split", "Test split (scored once)", test_split_section))
