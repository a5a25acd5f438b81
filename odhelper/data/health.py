"""Data health before any training: what a dataset's summary (dataset.json) and its
pictures.csv say about each class, at the input size the model will see.

Per class: pictures and boxes per split, the median box in pixels of the picture and
at the model's input, its aspect ratio; a class whose median box keeps fewer than
MIN_OBJECT_PX on its short side is flagged with the input size that would keep them
(the fitting rule of pipeline/fitting.py). Also: classes with too few validation
pictures to measure, and pictures with an extreme box count.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from odhelper.constants import MIN_OBJECT_PX

FEW_TO_VALIDATE = 5  # validation pictures under which a class's AP is mostly noise
CROWDED_FACTOR = 3  # a picture with more boxes than this x the 90th percentile (and > 10)
SIZE_MULTIPLE = 32


@dataclass
class ClassHealth:
    name: str
    pictures: dict[str, int]  # split -> pictures holding the class
    boxes: int
    median_px: tuple[float, float]  # width, height in the picture's pixels
    at_input: float  # the median box's short side at the model's input, px
    aspect: float
    needed_size: int | None  # the input side that keeps MIN_OBJECT_PX (flagged classes)


@dataclass
class Health:
    input_size: int
    classes: list[ClassHealth]
    few_to_validate: list[str]
    crowded: list[tuple[str, int]]  # (picture, boxes)
    background: int
    splits: dict[str, int] = field(default_factory=dict)  # split -> pictures
    problems: dict[str, int] = field(default_factory=dict)  # tfrecord's, reason -> count

    def to_dict(self) -> dict:
        return {"input_size": self.input_size, "splits": self.splits, "problems": self.problems,
                "background": self.background, "few_to_validate": self.few_to_validate,
                "crowded": [{"picture": p, "boxes": n} for p, n in self.crowded],
                "classes": [vars(c) for c in self.classes]}

    @property
    def too_small(self) -> list[ClassHealth]:
        return [c for c in self.classes if c.needed_size is not None]


def side_at_least(pixels: float) -> int:
    """The smallest input side of at least `pixels`, a multiple of SIZE_MULTIPLE."""
    return math.ceil(pixels / SIZE_MULTIPLE) * SIZE_MULTIPLE


def needed_side(share: float) -> int:
    """The square input side keeping MIN_OBJECT_PX of a short side `share` of the picture."""
    return side_at_least(MIN_OBJECT_PX / max(share, 1e-6))


def check(content: dict, pictures: list[dict], input_size: int) -> Health:
    """The health of the dataset `content` (dataset.json) with its pictures.csv rows."""
    stats = content.get("box_stats") or {}
    classes = []
    for entry in content.get("classes", []):
        name = entry["name"]
        values = stats.get("classes", {}).get(name, {})
        counts = {side: int(entry.get(f"{side}_images", 0))
                  for side in ("train", "validate", "test") if f"{side}_images" in entry}
        if not values.get("boxes"):
            classes.append(ClassHealth(name, counts, 0, (0.0, 0.0), 0.0, 0.0, None))
            continue
        share = min(values["width"][1], values["height"][1])
        at_input = share * input_size
        classes.append(ClassHealth(
            name, counts, int(values["boxes"]),
            (float(values["width_px"][1]), float(values["height_px"][1])),
            round(at_input, 1), float(values["aspect"][1]),
            needed_side(share) if at_input < MIN_OBJECT_PX else None))
    few = [c.name for c in classes if c.pictures.get("validate", 0) < FEW_TO_VALIDATE]
    counts = sorted(row["boxes"] for row in pictures)
    p90 = counts[round(0.9 * (len(counts) - 1))] if counts else 0
    limit = max(10, CROWDED_FACTOR * p90)
    crowded = sorted(((row["path"], row["boxes"]) for row in pictures if row["boxes"] > limit),
                     key=lambda pair: -pair[1])
    splits: dict[str, int] = {}
    for row in pictures:
        splits[row["split"]] = splits.get(row["split"], 0) + 1
    return Health(input_size, classes, few, crowded,
                  sum(1 for row in pictures if not row["boxes"]), splits,
                  dict(content.get("problem_counts") or {}))


def lines(health: Health) -> list[str]:
    """The one-page summary for the log."""
    sides = ", ".join(f"{side} {count}" for side, count in health.splits.items())
    found = [f"Pictures: {sides}; {health.background} without any box"]
    header = ("NAME", "pictures (train/validate/test)", "boxes", "median box px",
              f"short side at {health.input_size} px", "aspect")
    rows = [(c.name, "/".join(str(c.pictures.get(s, 0)) for s in ("train", "validate", "test")),
             str(c.boxes), f"{c.median_px[0]:.0f}x{c.median_px[1]:.0f}",
             f"{c.at_input:.0f}{'!' if c.needed_size else ''}", f"{c.aspect:.2f}")
            for c in health.classes]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    found += [line.format(*header).rstrip()] + [line.format(*r).rstrip() for r in rows]
    for c in health.too_small:
        found.append(f"! {c.name}: median box keeps {c.at_input:.0f} px at {health.input_size} "
                     f"px input (< {MIN_OBJECT_PX}); an input of {c.needed_size} px keeps it "
                     "(--image-size, or --tile for large pictures)")
    if health.few_to_validate:
        found.append(f"! fewer than {FEW_TO_VALIDATE} validation pictures (their AP is mostly "
                     f"noise): {', '.join(health.few_to_validate)}")
    for picture, count in health.crowded[:10]:
        found.append(f"! {picture}: {count} boxes (many more than the others)")
    if health.problems:
        found.append("Problems tfrecord found (listed in dataset.json): " + ", ".join(
            f"{reason} {count}" for reason, count in sorted(health.problems.items())))
    return found
