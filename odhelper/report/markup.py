"""The HTML pieces of the report: escaped notes, tables, embedded PNG pictures."""
from __future__ import annotations

import base64
import csv
import html
from pathlib import Path


def img(data: str, alt: str) -> str:
    """A PNG given as base64 text."""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def png_file(path: Path, alt: str) -> str:
    return img(base64.b64encode(path.read_bytes()).decode("ascii"), alt)


def note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def table(headers, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def csv_table(path: Path) -> str:
    """A CSV file (its first row the header) as a table."""
    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    return table(rows[0], rows[1:])
