"""train.csv / validate.csv in the classic layout, written with pandas."""
from __future__ import annotations

from pathlib import Path

from odhelper import files

COLUMNS = ["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax", "path"]


def rows(items) -> list[tuple]:
    """The classic columns (filename = the picture's name), then `path`, unique when
    sub-folders repeat a name; sorted by path."""
    return [(i.image_name.rsplit("/", 1)[-1], i.width, i.height, b.name, b.xmin, b.ymin,
             b.xmax, b.ymax, i.image_name)
            for i in sorted(items, key=lambda i: i.image_name) for b in i.boxes]


def write(table: list[tuple], path: Path) -> None:
    """Write the rows atomically; whole-pixel coordinates as integers."""
    import pandas as pd

    frame = pd.DataFrame(table, columns=COLUMNS)
    for column in ("xmin", "ymin", "xmax", "ymax"):
        values = frame[column]
        if len(values) and (values == values.round()).all():
            frame[column] = values.astype(int)
    with files.atomic_path(path) as temp:
        frame.to_csv(temp, index=False)
