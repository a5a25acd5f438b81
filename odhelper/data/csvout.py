"""train.csv / validate.csv in the classic layout (the columns the classic
generate_tfrecord.py reads), written with the standard csv module."""
from __future__ import annotations

import csv
from pathlib import Path

from odhelper import files

COLUMNS = ["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax", "path"]
PICTURE_COLUMNS = ["split", "filename", "path", "picture", "annotation", "width", "height",
                   "boxes"]
_COORDINATES = slice(4, 8)  # xmin, ymin, xmax, ymax


def rows(items) -> list[tuple]:
    """The classic columns (filename = the picture's name), then `path`, unique when
    sub-folders repeat a name; sorted by path."""
    return [(i.image_name.rsplit("/", 1)[-1], i.width, i.height, b.name, b.xmin, b.ymin,
             b.xmax, b.ymax, i.image_name)
            for i in sorted(items, key=lambda i: i.image_name) for b in i.boxes]


def _whole_columns(table: list[tuple]) -> list[bool]:
    """Per coordinate column: every value is a whole number (then written as integers,
    as in the classic CSVs; a column with one fraction keeps them all as decimals)."""
    columns = range(_COORDINATES.start, _COORDINATES.stop)
    return [all(float(row[c]).is_integer() for row in table) for c in columns]


def write(table: list[tuple], path: Path) -> None:
    """Write the rows atomically; whole-pixel coordinates as integers."""
    whole = _whole_columns(table)
    with files.atomic_path(path) as temp, open(temp, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in table:
            coordinates = [int(v) if keep else float(v)
                           for v, keep in zip(row[_COORDINATES], whole)]
            writer.writerow([*row[:4], *coordinates, row[8]])


def picture_rows(parts: dict, root: Path) -> list[tuple]:
    """One row per picture of each side (background pictures too), in record order:
    the side, the record's file name and path, then where the picture and its
    annotation file are (absolute), for tools that go back to the sources (`audit`)."""
    table, seen = [], set()
    for side, items in parts.items():
        for item in items:
            if (side, item.image_path) in seen:  # a --balance copy
                continue
            seen.add((side, item.image_path))
            annotation = item.source_file or str(Path(root) / item.xml)
            table.append((side, item.image_name.rsplit("/", 1)[-1], item.image_name,
                          item.image_path, annotation, item.width, item.height,
                          len(item.boxes)))
    return table


def write_pictures(table: list[tuple], path: Path) -> None:
    with files.atomic_path(path) as temp, open(temp, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(PICTURE_COLUMNS)
        writer.writerows(table)


def read_pictures(path: Path) -> list[dict]:
    """pictures.csv as dicts (width, height and boxes as int)."""
    with open(path, newline="", encoding="utf-8") as stream:
        found = list(csv.DictReader(stream))
    for row in found:
        for key in ("width", "height", "boxes"):
            row[key] = int(row[key])
    return found


def read_boxes(path: Path) -> dict[str, list[tuple]]:
    """A split's box CSV: picture path -> [(class, xmin, ymin, xmax, ymax)]."""
    found: dict[str, list[tuple]] = {}
    with open(path, newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            found.setdefault(row["path"], []).append(
                (row["class"], *(float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax"))))
    return found
