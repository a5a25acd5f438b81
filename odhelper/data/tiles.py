"""Tiles of large pictures with small objects (the SAHI approach: slicing-aided
training and inference): a picture larger than SIZE is cut into SIZE x SIZE windows
overlapping by a share of SIZE, the last row and column flush with the picture's
edge, so each object keeps its pixels at the model's input.

Training (`tfrecord --tile`): each window is one example; a box cut by a window's
edge is kept, clipped, when at least MIN_VISIBLE of its area is inside, else it is
dropped from that window (counted). The training side keeps a share of the windows
without any box as background; the held-out sides keep them all. The split is made on
whole pictures before any cutting, so the tiles of one picture never straddle it.
Inference (`evaluate --tile`, `predict --tile`) runs the model on every window and on
the whole picture, shifts the boxes back and merges them (engine/tiled.py).
"""
from __future__ import annotations

import io
import math
from typing import Sequence

from odhelper.data.annotation import Box

MIN_VISIBLE = 0.3  # share of a box's area a window must hold to keep it
EMPTY_KEPT = 4  # training keeps one empty tile in this many (a seeded draw by name)


def keeps_empty(name: str) -> bool:
    """Whether a training tile without boxes is kept as background (about 1 in
    EMPTY_KEPT, the same tiles on every run)."""
    import zlib

    return zlib.crc32(name.encode()) % EMPTY_KEPT == 0


JPEG_QUALITY = 95


def starts(length: int, size: int, overlap: float) -> list[int]:
    """Window origins along one side: a step of size * (1 - overlap), the last window
    flush with the end; one window when the side fits."""
    if length <= size:
        return [0]
    step = max(1, int(size * (1.0 - overlap)))
    count = math.ceil((length - size) / step) + 1
    return sorted({min(i * step, length - size) for i in range(count)})


def shared_pixels(size: int, overlap: float) -> int:
    """The fewest pixels two neighbouring windows share: an object no longer or wider
    than this lies whole in some window."""
    return size - max(1, int(size * (1.0 - overlap)))


def grid(width: int, height: int, size: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of every window, row by row."""
    return [(x, y, min(x + size, width), min(y + size, height))
            for y in starts(height, size, overlap) for x in starts(width, size, overlap)]


def clipped(boxes: Sequence[Box], window: tuple[int, int, int, int],
            dropped: list[int] | None = None) -> list[Box]:
    """The boxes a window keeps, in its own pixels; `dropped[0]` counts the pieces of
    boxes it cuts too small to keep."""
    x0, y0, x1, y1 = window
    kept = []
    for box in boxes:
        left, top = max(box.xmin, x0), max(box.ymin, y0)
        right, bottom = min(box.xmax, x1), min(box.ymax, y1)
        if right <= left or bottom <= top:
            continue
        area = max(1e-6, (box.xmax - box.xmin) * (box.ymax - box.ymin))
        if (right - left) * (bottom - top) / area < MIN_VISIBLE:
            if dropped is not None:
                dropped[0] += 1
            continue
        cut = (left, top, right, bottom) != (box.xmin, box.ymin, box.xmax, box.ymax)
        kept.append(Box(box.name, left - x0, top - y0, right - x0, bottom - y0,
                        difficult=box.difficult, truncated=box.truncated or cut, pose=box.pose))
    return kept


def windows_of(encoded: bytes, width: int, height: int, size: int, overlap: float):
    """(window, JPEG bytes of that window) for each window of a stored picture (its
    bytes decode to RGB at width x height, as the records keep it)."""
    from PIL import Image

    with Image.open(io.BytesIO(encoded)) as image:
        image = image.convert("RGB")
        for window in grid(width, height, size, overlap):
            out = io.BytesIO()
            image.crop(window).save(out, "JPEG", quality=JPEG_QUALITY)
            yield window, out.getvalue()
