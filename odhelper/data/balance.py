"""`--balance sqrt|repeat`: repeat-factor sampling of the training pictures (LVIS style).

Each class c gets r_c = max(1, sqrt(t / f_c)) (sqrt) or max(1, t / f_c) (repeat),
f_c being the share of training pictures holding c and t the threshold (by
default the most frequent class's share). A picture repeats by the rarest class
it holds: r = max of its classes' r_c; a background picture keeps r = 1.

Done in the record layout: a picture's record is written round(r) times across
the training shards (the fraction rounded up or down by a seeded coin per
picture, so the expected count is exactly r). One epoch of the train records is
then one epoch of the balanced sampling, and the OD API's reader, shuffle and
evaluation need nothing special. Validation (and any other split) is never
touched.
"""
from __future__ import annotations

import copy
import hashlib
import math
import random
from dataclasses import dataclass

from odhelper import log


@dataclass
class Balance:
    mode: str
    threshold: float
    class_factor: dict[str, float]
    copies: list[int]  # per training picture, in the order given
    rows: list[dict]  # per class: images, boxes before, repeat factor, boxes per epoch after

    def to_dict(self) -> dict:
        return {"mode": self.mode, "threshold": round(self.threshold, 6),
                "records": sum(self.copies), "pictures": len(self.copies),
                "classes": self.rows}


def _coin(seed: int, name: str) -> float:
    digest = hashlib.sha256(f"{seed}:balance:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def plan(train_items: list, mode: str, threshold: float, seed: int) -> Balance:
    """The repeat factor of every class and the number of copies of each picture."""
    pictures = max(1, len(train_items))
    holding: dict[str, int] = {}
    boxes: dict[str, int] = {}
    for item in train_items:
        for name in {b.name for b in item.boxes}:
            holding[name] = holding.get(name, 0) + 1
        for box in item.boxes:
            boxes[box.name] = boxes.get(box.name, 0) + 1
    share = {name: count / pictures for name, count in holding.items()}
    t = threshold or max(share.values(), default=0.0)
    power = 0.5 if mode == "sqrt" else 1.0
    factor = {name: max(1.0, (t / f) ** power) for name, f in share.items()}
    copies = []
    for item in train_items:
        r = max((factor[b.name] for b in item.boxes), default=1.0)
        whole = math.floor(r)
        copies.append(whole + (1 if _coin(seed, item.image_name) < r - whole else 0))
    after: dict[str, int] = {}
    for item, n in zip(train_items, copies):
        for box in item.boxes:
            after[box.name] = after.get(box.name, 0) + n
    rows = [{"name": name, "images": holding[name], "boxes_before": boxes[name],
             "repeat_factor": round(factor[name], 3), "boxes_per_epoch": after[name]}
            for name in sorted(holding)]
    return Balance(mode, t, factor, copies, rows)


def expand(train_items: list, balance: Balance, seed: int) -> list:
    """The training items with each picture's extra copies (shallow copies: pass 2
    works on each on its own), shuffled with the seed so copies spread over shards."""
    expanded = list(train_items)
    for item, n in zip(train_items, balance.copies):
        expanded += [_copy(item) for _ in range(n - 1)]
    random.Random(f"{seed}:balance").shuffle(expanded)
    return expanded


def _copy(item):
    """A copy for pass 2 with a problem list of its own (pass 2 appends to it; the
    original's problems are reported once)."""
    clone = copy.copy(item)
    clone.problems = []
    return clone


def log_table(balance: Balance) -> None:
    log.info("Balance (%s, t = %.4g): %d training pictures -> %d records per epoch",
             balance.mode, balance.threshold, len(balance.copies), sum(balance.copies))
    width = max([len(r["name"]) for r in balance.rows] + [5])
    log.info("  %-*s  %8s  %6s  %s", width, "CLASS", "boxes", "r", "boxes per epoch after")
    for row in balance.rows:
        log.info("  %-*s  %8d  %6.2f  %d", width, row["name"], row["boxes_before"],
                 row["repeat_factor"], row["boxes_per_epoch"])
