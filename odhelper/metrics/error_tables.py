"""Write the error analysis as CSV and the operating points as thresholds.json
(read back and applied by odhelper/thresholds.py)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from odhelper import files
from odhelper.metrics.errors import FP_KINDS, Curve, ErrorAnalysis, OperatingPoint
from odhelper.metrics.tables import text, write_csv

ERROR_HEADERS = ("class", "boxes", "TP", "FP", *(f"FP {k}" for k in FP_KINDS), "FN",
                 "precision", "recall", "F1")
CURVE_HEADERS = ("class", "threshold", "TP", "FP", "FN", "precision", "recall", "F1")
OPERATING_HEADERS = ("class", "threshold", "precision", "recall", "F1", "rule", "met")


def _number(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4f}"


def matrix_cells(analysis: ErrorAnalysis) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the confusion matrix (true class per row)."""
    labels = analysis.names + ["background"]
    headers = ["true \\ predicted"] + labels
    return headers, [[label] + [str(int(v)) for v in row]
                     for label, row in zip(labels, analysis.matrix)]


def error_cells(analysis: ErrorAnalysis) -> list[list[str]]:
    return [[row.name, str(row.boxes), str(row.tp), str(row.fp_total),
             *(str(row.fp[k]) for k in FP_KINDS), str(row.fn), _number(row.precision),
             _number(row.recall), _number(row.f1)] for row in analysis.classes]


def operating_cells(points: Sequence[OperatingPoint]) -> list[list[str]]:
    return [[p.name, f"{p.threshold:.4f}", _number(p.precision), _number(p.recall),
             _number(p.f1), p.rule, "yes" if p.met else "no"] for p in points]


def save(analysis: ErrorAnalysis, curves: Sequence[Curve],
         points: Sequence[OperatingPoint], place) -> list[Path]:
    """confusion_matrix.csv, errors.csv, threshold_curves.csv, operating_points.csv
    into `place` (a rundir.EvalDir)."""
    write_csv(place.confusion_csv, *matrix_cells(analysis))
    write_csv(place.errors_csv, ERROR_HEADERS, error_cells(analysis))
    write_csv(place.curves_csv, CURVE_HEADERS, [
        [curve.name, f"{t:.6f}", str(int(tp)), str(int(fp)), str(int(fn)), f"{p:.4f}",
         f"{r:.4f}", f"{f:.4f}"]
        for curve in curves
        for t, tp, fp, fn, p, r, f in zip(curve.thresholds, curve.tp, curve.fp, curve.fn,
                                          curve.precision, curve.recall, curve.f1)])
    write_csv(place.operating_csv, OPERATING_HEADERS, operating_cells(points))
    return [place.confusion_csv, place.errors_csv, place.curves_csv, place.operating_csv]


def console(analysis: ErrorAnalysis, points: Sequence[OperatingPoint]) -> str:
    """The three tables for the terminal."""
    return "\n\n".join([
        f"Confusion matrix at score >= {analysis.threshold:g} (IoU >= 0.5):\n"
        + text(*matrix_cells(analysis)),
        "Errors per class:\n" + text(ERROR_HEADERS, error_cells(analysis)),
        "Operating points:\n" + text(OPERATING_HEADERS, operating_cells(points))])


def thresholds_record(points: Sequence[OperatingPoint], metric: str, split: str,
                      records: Sequence[str], checkpoint: str, step: int) -> dict:
    """What RUN/export/thresholds.json holds."""
    return {"metric": metric, "split": split, "records": list(records),
            "checkpoint": checkpoint, "step": step,
            "classes": {p.name: {"threshold": p.threshold,  # exact: a detection at it stays
                                 "precision": None if math.isnan(p.precision)
                                 else round(p.precision, 6),
                                 "recall": None if math.isnan(p.recall)
                                 else round(p.recall, 6),
                                 "rule": p.rule, "met": p.met} for p in points}}


def write_thresholds(record: dict, path: Path) -> Path:
    files.write_json(path, record)
    return path
