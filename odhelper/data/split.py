"""Image-level train / validate split, stratified over classes (iterative stratification).

Units, not images, are split: byte-identical images form one unit, so twins
always land on the same side. Following Sechidis et al. (2011), the rarest
class still to place goes first; each of its units goes to the side that still
wants most images of that class (ties: most boxes of it wanted, then most
images overall, then the seeded coin). Every class with at least two units
wants at least one validation image (and one training image).

A refinement pass then swaps validation and training units while that brings
every class's image and box counts closer to the ratio.

Deterministic whatever the file order: units are ordered by a seeded hash of
their content digest, never by path or discovery order.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

TRAIN, VALIDATE, TEST = "train", "validate", "test"


@dataclass
class Unit:
    key: str  # content digest shared by the unit's images (sha256)
    images: int  # number of images (>1 for twins)
    class_images: dict[str, int] = field(default_factory=dict)  # class -> images having it
    class_boxes: dict[str, int] = field(default_factory=dict)  # class -> boxes


def _order(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def _wants(units: list[Unit], fraction: float, minimum: bool) -> dict[str, dict]:
    """Per side: images wanted overall, per class, and boxes per class."""
    total = sum(u.images for u in units)
    class_images: dict[str, int] = {}
    class_boxes: dict[str, int] = {}
    class_units: dict[str, int] = {}
    for unit in units:
        for name, count in unit.class_images.items():
            class_images[name] = class_images.get(name, 0) + count
            class_units[name] = class_units.get(name, 0) + 1
        for name, count in unit.class_boxes.items():
            class_boxes[name] = class_boxes.get(name, 0) + count
    wants = {side: {"images": total * share, "class": {}, "boxes": {}}
             for side, share in ((TRAIN, 1 - fraction), (VALIDATE, fraction))}
    for name, count in class_images.items():
        validate = count * fraction
        if minimum and class_units[name] >= 2:
            validate = min(max(validate, 1.0), count - 1.0)
        wants[VALIDATE]["class"][name] = validate
        wants[TRAIN]["class"][name] = count - validate
        wants[VALIDATE]["boxes"][name] = class_boxes.get(name, 0) * fraction
        wants[TRAIN]["boxes"][name] = class_boxes.get(name, 0) * (1 - fraction)
    return wants


def _choose(unit: Unit, name: str | None, wants: dict, coin: str) -> str:
    def score(side: str):
        want = wants[side]
        by_class = want["class"].get(name, 0.0) if name else 0.0
        by_boxes = want["boxes"].get(name, 0.0) if name else 0.0
        return (round(by_class, 9), round(by_boxes, 9), round(want["images"], 9))
    train, validate = score(TRAIN), score(VALIDATE)
    if train != validate:
        return TRAIN if train > validate else VALIDATE
    return VALIDATE if int(coin[:8], 16) % 2 else TRAIN


def _take(unit: Unit, side: str, wants: dict) -> None:
    want = wants[side]
    want["images"] -= unit.images
    for name, count in unit.class_images.items():
        want["class"][name] -= count
    for name, count in unit.class_boxes.items():
        want["boxes"][name] -= count


def split_units(units: list[Unit], validate_fraction: float, seed: int) -> dict[str, str]:
    """{unit key: 'train' | 'validate'}."""
    ordered = sorted(units, key=lambda u: _order(seed, u.key))
    wants = _wants(ordered, validate_fraction, minimum=True)
    remaining = {u.key: u for u in ordered}
    by_class: dict[str, list[Unit]] = {}
    for unit in ordered:
        for name in unit.class_images:
            by_class.setdefault(name, []).append(unit)
    assignment: dict[str, str] = {}
    while by_class:
        # The class with the fewest units left to place (ties: by name).
        name = min(by_class, key=lambda n: (len(by_class[n]), n))
        for unit in by_class.pop(name):
            if unit.key not in remaining:
                continue
            side = _choose(unit, name, wants, _order(seed + 1, unit.key))
            assignment[unit.key] = side
            _take(unit, side, wants)
            del remaining[unit.key]
        for other in by_class:
            by_class[other] = [u for u in by_class[other] if u.key in remaining]
        by_class = {n: us for n, us in by_class.items() if us}
    for unit in remaining.values():  # negatives (no objects): by overall share
        side = _choose(unit, None, wants, _order(seed + 1, unit.key))
        assignment[unit.key] = side
        _take(unit, side, wants)
    return _refine(ordered, assignment, validate_fraction)


def split_three(units: list[Unit], validate_fraction: float, test_fraction: float,
                seed: int) -> dict[str, str]:
    """{unit key: 'train' | 'validate' | 'test'}: the test split is drawn first by the
    same stratified rule (as the validation side of a split), then the rest is split
    into train and validate; twins stay one unit throughout."""
    if not test_fraction:
        return split_units(units, validate_fraction, seed)
    first = split_units(units, test_fraction, seed)
    rest = [u for u in units if first[u.key] != VALIDATE]
    sides = {key: TEST for key, side in first.items() if side == VALIDATE}
    if rest:
        sides.update(split_units(rest, validate_fraction / (1.0 - test_fraction), seed + 1))
    return sides


def fold_sides(units: list[Unit], fold: int, folds: int, seed: int) -> dict[str, str]:
    """{unit key: 'validate' for fold `fold` (1-based) of `folds`, else 'train'}: each
    fold in turn is drawn from the rest by the stratified rule, so every fold gets
    its share of each class and the same seed gives the same folds to every call."""
    rest, sides = list(units), {}
    for number in range(1, folds + 1):
        if number == folds:
            drawn = {u.key for u in rest}
        else:
            split = split_units(rest, 1.0 / (folds - number + 1), seed + number)
            drawn = {key for key, side in split.items() if side == VALIDATE}
        sides.update({key: VALIDATE if number == fold else TRAIN for key in drawn})
        rest = [u for u in rest if u.key not in drawn]
    return sides


def _cost(val_images, val_boxes, val_total, target_images, target_boxes, target_total,
          floor, ceiling):
    """Squared distance to the targets; images weigh most, an empty side is forbidden."""
    import numpy as np

    cost = 4.0 * ((val_images - target_images) ** 2).sum(axis=-1)
    cost = cost + ((val_boxes - target_boxes) ** 2).sum(axis=-1)
    cost = cost + 4.0 * (val_total - target_total) ** 2
    broken = ((val_images < floor) | (val_images > ceiling)).any(axis=-1)
    return np.where(broken, np.inf, cost)


def _move(is_val, images, boxes, sizes, targets, floor, ceiling) -> bool:
    """Move single units across while that lowers the cost; True if any moved."""
    import numpy as np

    moved = False
    for _ in range(len(is_val)):
        sign = np.where(is_val, -1.0, 1.0)[:, None]
        base = (images[is_val].sum(0), boxes[is_val].sum(0), sizes[is_val].sum())
        now = _cost(*base, *targets, floor, ceiling)
        flipped = _cost(base[0] + sign * images, base[1] + sign * boxes,
                        base[2] + sign[:, 0] * sizes, *targets, floor, ceiling)
        best = int(np.argmin(flipped))
        if not flipped[best] < now - 1e-9:
            return moved
        is_val[best] = not is_val[best]
        moved = True
    return moved


def _distinct(indices, kinds):
    """Of units of one kind (identical class/box/size counts: interchangeable), the first."""
    import numpy as np

    if not len(indices):
        return indices
    _, first = np.unique(kinds[indices], return_index=True)
    return indices[np.sort(first)]


def _swap(is_val, kinds, images, boxes, sizes, targets, floor, ceiling) -> bool:
    """Apply the first validation/training swap that lowers the cost; True if one did."""
    import numpy as np

    train = _distinct(np.flatnonzero(~is_val), kinds)
    if not len(train):
        return False
    base = (images[is_val].sum(0), boxes[is_val].sum(0), sizes[is_val].sum())
    now = _cost(*base, *targets, floor, ceiling)
    for a in _distinct(np.flatnonzero(is_val), kinds):
        swapped = _cost(base[0] - images[a] + images[train], base[1] - boxes[a] + boxes[train],
                        base[2] - sizes[a] + sizes[train], *targets, floor, ceiling)
        best = int(np.argmin(swapped))
        if swapped[best] < now - 1e-9:
            is_val[a], is_val[train[best]] = False, True
            return True
    return False


def _refine(units: list[Unit], assignment: dict[str, str], fraction: float,
            passes: int = 3) -> dict[str, str]:
    """Move single units, and swap a validation unit with a training unit, while that
    brings every class's images and boxes (and the total) closer to the ratio."""
    import numpy as np

    names = sorted({n for u in units for n in u.class_images})
    if not names or len(units) < 3:
        return assignment
    column = {n: i for i, n in enumerate(names)}
    images = np.zeros((len(units), len(names)))
    boxes = np.zeros((len(units), len(names)))
    for row, unit in enumerate(units):
        for name, count in unit.class_images.items():
            images[row, column[name]] = count
        for name, count in unit.class_boxes.items():
            boxes[row, column[name]] = count
    sizes = np.array([u.images for u in units], dtype=float)
    units_per_class = (images > 0).sum(axis=0)
    class_images, total = images.sum(axis=0), sizes.sum()
    floor = np.where(units_per_class >= 2, 1.0, 0.0)
    ceiling = np.where(units_per_class >= 2, class_images - 1.0, class_images)
    targets = (class_images * fraction, boxes.sum(axis=0) * fraction, total * fraction)
    is_val = np.array([assignment[u.key] == VALIDATE for u in units])
    _, kinds = np.unique(np.hstack([images, boxes, sizes[:, None]]), axis=0,
                         return_inverse=True)
    kinds = kinds.reshape(-1)
    for _ in range(passes):
        improved = _move(is_val, images, boxes, sizes, targets, floor, ceiling)
        while _swap(is_val, kinds, images, boxes, sizes, targets, floor, ceiling):
            improved = True
        if not improved:
            break
    return {u.key: VALIDATE if v else TRAIN for u, v in zip(units, is_val)}
