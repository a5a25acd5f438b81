"""Box statistics of a dataset, recorded in dataset.json by `odhelper tfrecord`: per class
the box sizes (pixels and share of the picture side), aspect ratios, and per picture the
box count; plus a seeded sample of training boxes. The fitted configuration
(pipeline/fitting.py) and the data health page read them.
"""
from __future__ import annotations

import random

from odhelper.constants import MIN_OBJECT_PX

QUANTILES = (0.1, 0.5, 0.9)
SAMPLE_SIZE = 2000  # training boxes kept for the anchor fit
ORIENTATION_MIN_BOXES = 20  # sampled boxes before orientation is judged


def _quantiles(values: list[float]) -> list[float]:
    if not values:
        return []
    ordered = sorted(values)
    last = len(ordered) - 1
    return [round(ordered[round(q * last)], 4) for q in QUANTILES]


def _relative(box, item, tile: int = 0) -> tuple[float, float, float, float]:
    """Centre x, centre y, width and height as shares of the picture's sides (with
    --tile, the sizes as shares of the tile's: the model's input is a tile)."""
    width, height = max(1, item.width), max(1, item.height)
    seen_w, seen_h = (min(width, tile), min(height, tile)) if tile else (width, height)
    return ((box.xmin + box.xmax) / 2 / width, (box.ymin + box.ymax) / 2 / height,
            (box.xmax - box.xmin) / seen_w, (box.ymax - box.ymin) / seen_h)


def statistics(label_ids: dict[str, int], parts: dict[str, list], seed: int = 0,
               tile: int = 0) -> dict:
    """The `box_stats` record of dataset.json (every split's pictures count; the sample
    is drawn from the training side, each picture once; shares of the tile's side
    with --tile)."""
    per_class: dict[str, dict[str, list[float]]] = {
        name: {"width_px": [], "height_px": [], "width": [], "height": [], "aspect": []}
        for name in label_ids}
    counts, sides = [], []
    seen = set()
    for side, items in parts.items():
        for item in items:
            if item.image_path in seen:  # --balance copies
                continue
            seen.add(item.image_path)
            counts.append(len(item.boxes))
            sides.append(min(item.width, item.height))
            for box in item.boxes:
                _, _, width, height = _relative(box, item, tile)
                values = per_class[box.name]
                values["width_px"].append(box.xmax - box.xmin)
                values["height_px"].append(box.ymax - box.ymin)
                values["width"].append(width)
                values["height"].append(height)
                values["aspect"].append((box.xmax - box.xmin) / max(1e-6, box.ymax - box.ymin))
    return {
        "quantiles": list(QUANTILES),
        "classes": {name: {"boxes": len(values["width"]),
                           **{key: _quantiles(found) for key, found in values.items()}}
                    for name, values in per_class.items()},
        "boxes_per_picture": _quantiles(counts) + [max(counts, default=0)],
        "picture_short_side": _quantiles(sides),
        "sample": _sample(label_ids, parts.get("train", []), seed, tile),
    }


def _sample(label_ids: dict[str, int], items: list, seed: int, tile: int) -> list[list[float]]:
    """Up to SAMPLE_SIZE training boxes as [class id, cx, cy, w, h] (shares of the sides)."""
    boxes, seen = [], set()
    for item in items:
        if item.image_path in seen:
            continue
        seen.add(item.image_path)
        boxes.extend([label_ids[box.name], *(round(v, 4) for v in _relative(box, item, tile))]
                     for box in item.boxes)
    if len(boxes) > SAMPLE_SIZE:
        boxes = random.Random(seed).sample(boxes, SAMPLE_SIZE)
    return boxes


def smallest_class(stats: dict) -> tuple[str, float] | None:
    """The class whose median box has the smallest short side (as a share of the
    picture side it lies along), with that share; None without boxes."""
    found = [(min(values["width"][1], values["height"][1]), name)
             for name, values in stats.get("classes", {}).items() if values.get("boxes")]
    if not found:
        return None
    share, name = min(found)
    return name, share


def table_lines(stats: dict, sizes: tuple[int, ...] = (160, 320, 640)) -> list[str]:
    """Per class: median box in pixels and as a share of the picture, and the pixels its
    short side keeps at square model inputs of `sizes` (under the fitting rule's minimum:
    marked with '!')."""
    header = ("NAME", "boxes", "median box px", "short side", "aspect",
              *(f"at {size} px" for size in sizes))
    rows = []
    for name, values in stats.get("classes", {}).items():
        if not values.get("boxes"):
            continue
        share = min(values["width"][1], values["height"][1])
        kept = [share * size for size in sizes]
        rows.append((name, str(values["boxes"]),
                     f"{values['width_px'][1]:.0f}x{values['height_px'][1]:.0f}",
                     f"{share:.1%}", f"{values['aspect'][1]:.2f}",
                     *(f"{px:.0f}{'!' if px < MIN_OBJECT_PX else ''}" for px in kept)))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    return [line.format(*header).rstrip()] + [line.format(*row).rstrip() for row in rows]


def looks_orientation_free(stats: dict) -> str | None:
    """Why the boxes look the same any way up, else None: every class's aspect ratios lie
    around 1 and mirror each other (q10 x q90 near 1), the centres fill the top and the
    bottom third of the pictures, and pictures hold several boxes (cells, overhead
    imagery). Natural photos fail at least one: things stand on the ground."""
    sample = stats.get("sample") or []
    if len(sample) < ORIENTATION_MIN_BOXES or stats.get("boxes_per_picture", [0, 0])[1] < 2:
        return None
    for values in stats.get("classes", {}).values():
        if values.get("boxes", 0) < 5:
            continue
        low, median, high = values["aspect"]
        if not (0.8 <= median <= 1.25 and 0.67 <= low * high <= 1.5):
            return None
    rows = [row[2] for row in sample]
    top = sum(y < 1 / 3 for y in rows) / len(rows)
    bottom = sum(y > 2 / 3 for y in rows) / len(rows)
    if min(top, bottom) < 0.2:
        return None
    return (f"box aspect ratios mirror around 1 in every class, {top:.0%} of the centres in "
            f"the top third and {bottom:.0%} in the bottom one, "
            f"{stats['boxes_per_picture'][1]:g} boxes per picture (median)")
