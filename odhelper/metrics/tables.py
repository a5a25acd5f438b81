"""Write the per-class and per-image tables as CSV, Markdown and console text."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Sequence

from odhelper import files
from odhelper.metrics.per_class import ClassRow
from odhelper.metrics.per_image import LETTERS, LetterRow, totals

CLASS_HEADERS = ("class", "pictures", "boxes", "AP@0.5 (VOC)", "COCO AP@[.5:.95]",
                 "AP50", "AR@100", "detections", "correct", "precision", "recall")
CLASS_CSV = "per_class.csv"
CLASS_MARKDOWN = "per_class.md"
IMAGE_CSV = "per_image.csv"
IMAGE_MARKDOWN = "per_image.md"


def _number(value) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def class_cells(rows: Sequence[ClassRow]) -> list[list[str]]:
    return [[_number(v) for v in row.as_dict().values()] for row in rows]


def letter_cells(rows: Sequence[LetterRow]) -> list[list[str]]:
    cells = [[row.name, " ".join(row.letters) or "-"] + [str(row.count(k)) for k in LETTERS]
             for row in rows]
    total = totals(rows)
    return cells + [["total", ""] + [str(total[k]) for k in LETTERS]]


LETTER_HEADERS = ("class", "pictures (T/F/N)") + LETTERS


def markdown(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines) + "\n"


def text(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """Aligned plain-text table for the console."""
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    def line(values):
        return "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])]
                     + [line(r) for r in cells])


def write_csv(path: Path, headers: Sequence[str], cells: Sequence[Sequence[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(cells)
    files.write_text(path, buffer.getvalue())


def save_class_table(rows: Sequence[ClassRow], directory: Path) -> list[Path]:
    cells = class_cells(rows)
    write_csv(directory / CLASS_CSV, CLASS_HEADERS, cells)
    files.write_text(directory / CLASS_MARKDOWN, markdown(CLASS_HEADERS, cells))
    return [directory / CLASS_CSV, directory / CLASS_MARKDOWN]


def save_letter_table(rows: Sequence[LetterRow], directory: Path) -> list[Path]:
    cells = letter_cells(rows)
    write_csv(directory / IMAGE_CSV, LETTER_HEADERS, cells)
    files.write_text(directory / IMAGE_MARKDOWN, markdown(LETTER_HEADERS, cells))
    return [directory / IMAGE_CSV, directory / IMAGE_MARKDOWN]


def read_class_csv(path: Path) -> list[dict[str, str]]:
    """The saved per-class table as dicts keyed by CLASS_HEADERS (for the report)."""
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))
