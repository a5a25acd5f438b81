"""The artifacts table: every exported artifact side by side with the SavedModel
(size, latency, mAP@0.5 and its drop, per-class AP@0.5) and the failure rule."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from odhelper import files
from odhelper.metrics import tables
from odhelper.metrics.per_class import ClassRow

BASELINE = "SavedModel"
# Float artifacts run the SavedModel's weights on the same pixels with the same
# post-processing: their mAP@0.5 must be within FLOAT_AGREEMENT of its, either way, and
# each picture's best detection scores within SCORE_AGREEMENT of its. A barely trained
# model's near-tied scores reorder under float noise and move its mAP: a gap with
# agreeing scores is noted, not failed.
SCORE_AGREEMENT = 0.02
FLOAT_AGREEMENT = 0.005
FLOAT_KINDS = ("TFLite fp32", "ONNX")
TOP_SCORES = 10  # per picture, compared between artifacts
SUMMARY_HEADERS = ("artifact", "file", "size MB", "latency ms/picture", "detections",
                   "mAP@0.5 (VOC)", "drop vs SavedModel", "COCO AP@[.5:.95]", "AR@100",
                   "status")


@dataclass
class ArtifactRow:
    name: str  # SavedModel, TFLite fp32, TFLite fp16, TFLite int8, ONNX
    file: str  # relative to the export folder
    size_bytes: int
    latency_ms: float
    detections: int  # at any score, over every validation picture
    classes: list[ClassRow] = field(default_factory=list)  # the evaluate table, "all" last
    top_scores: list[list[float]] | None = None  # per validation picture, best first
    failure: str | None = None
    note: str | None = None  # why an ok row looks odd

    @property
    def map50(self) -> float:
        return self.classes[-1].ap_voc

    def to_dict(self) -> dict:
        return {"name": self.name, "file": self.file, "size_bytes": self.size_bytes,
                "latency_ms": self.latency_ms, "detections": self.detections,
                "classes": [c.as_dict() for c in self.classes],
                "top_scores": self.top_scores}

    @classmethod
    def from_dict(cls, data: dict) -> "ArtifactRow":
        return cls(data["name"], data["file"], int(data["size_bytes"]),
                   float(data["latency_ms"]), int(data["detections"]),
                   [ClassRow(**c) for c in data["classes"]], data.get("top_scores"))

    @property
    def ok(self) -> bool:
        return self.failure is None


def judge(rows: list[ArtifactRow], max_drop: float) -> list[ArtifactRow]:
    """Mark the rows (after the first, the SavedModel) that detect nothing, lose more
    than `max_drop` mAP@0.5 against it (as the table shows it, to 4 decimals), or, for
    a float artifact, whose scores differ from its; returns the failed ones."""
    baseline = rows[0]
    for row in rows[1:]:
        drop = round(_drop(baseline.map50, row.map50), 4)
        if row.detections == 0:
            row.failure = "detects nothing on the validation pictures"
        elif row.name in FLOAT_KINDS:
            row.failure = _float_disagreement(baseline, row, drop)
        elif drop > max_drop:
            row.failure = (f"mAP@0.5 {_number(row.map50)} vs {_number(baseline.map50)}: "
                           f"drop {drop:.4f} > --max-ap-drop {max_drop}")
    return [row for row in rows if not row.ok]


def _float_disagreement(baseline: ArtifactRow, row: ArtifactRow, gap: float) -> str | None:
    """Why a float artifact fails (None: it agrees); `gap` is its drop as printed."""
    cause = "the same weights in float should agree (a different resize or post-processing)"
    if baseline.top_scores is not None and row.top_scores is not None \
            and len(baseline.top_scores) == len(row.top_scores):
        worst = max(map(score_difference, baseline.top_scores, row.top_scores), default=0.0)
        if worst > SCORE_AGREEMENT:
            return (f"detection scores differ from the SavedModel's by up to {worst:.4f} "
                    f"on a validation picture, more than {SCORE_AGREEMENT}: {cause}")
        if abs(gap) > FLOAT_AGREEMENT:
            row.note = (f"mAP@0.5 {gap:+.4f} from near-tied scores reordering: every "
                        f"picture's scores agree within {worst:.4f}")
        return None
    if abs(gap) > FLOAT_AGREEMENT:
        return (f"mAP@0.5 {_number(row.map50)} vs {_number(baseline.map50)}: not within "
                f"{FLOAT_AGREEMENT}: {cause}")
    return None


def top_scores(scores: Sequence[float]) -> list[float]:
    """A picture's best TOP_SCORES detection scores, best first, as stored."""
    return [round(float(s), 4) for s in sorted(scores, reverse=True)[:TOP_SCORES]]


def score_difference(ours: Sequence[float], theirs: Sequence[float]) -> float:
    """Largest difference between two pictures' best scores, best first (1.0 when only
    one of them detects anything)."""
    count = min(len(ours), len(theirs), TOP_SCORES)
    if not count:
        return 0.0 if len(ours) == len(theirs) else 1.0
    return max(abs(a - b) for a, b in zip(ours[:count], theirs[:count]))


def _drop(baseline: float, value: float) -> float:
    baseline = 0.0 if math.isnan(baseline) else baseline
    return baseline - (0.0 if math.isnan(value) else value)


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4f}"


def class_names(rows: Sequence[ArtifactRow]) -> list[str]:
    return [c.name for c in rows[0].classes[:-1]]


def summary_cells(rows: Sequence[ArtifactRow]) -> tuple[list[str], list[list[str]]]:
    names = class_names(rows)
    headers = list(SUMMARY_HEADERS[:-1]) + [f"AP@0.5 {n}" for n in names] + ["status"]
    baseline = rows[0].map50
    cells = []
    for row in rows:
        overall = row.classes[-1]
        drop = "" if row.name == BASELINE else f"{_drop(baseline, row.map50):.4f}"
        cells.append([row.name, row.file, f"{row.size_bytes / 1e6:.2f}", f"{row.latency_ms:.1f}",
                      str(row.detections), _number(row.map50), drop, _number(overall.coco_ap),
                      _number(overall.ar100)]
                     + [_number(c.ap_voc) for c in row.classes[:-1]]
                     + [_status(row)])
    return headers, cells


def _status(row: ArtifactRow) -> str:
    if not row.ok:
        return f"FAILED: {row.failure}"
    return f"ok ({row.note})" if row.note else "ok"


def save(rows: Sequence[ArtifactRow], markdown_path: Path, csv_path: Path,
         threshold: float) -> None:
    """artifacts.csv: the summary; artifacts.md: the summary, then each artifact's
    per-class table (the one `odhelper evaluate` prints)."""
    headers, cells = summary_cells(rows)
    tables.write_csv(csv_path, headers, cells)
    parts = ["# Exported artifacts on the validation split\n",
             "Latency: one picture per call on this machine, mean over the validation "
             "pictures. Per-class columns as `odhelper evaluate` (score threshold "
             f"{threshold} for detections, correct, precision, recall).\n",
             tables.markdown(headers, cells)]
    for row in rows:
        parts += [f"\n## {row.name} ({row.file})\n",
                  tables.markdown(tables.CLASS_HEADERS, tables.class_cells(row.classes))]
    files.write_text(markdown_path, "\n".join(parts))
