"""A VOC devkit's own split: `ImageSets/Main/{train,val,trainval,test}.txt`.

The lists found are named in the log. With `--split-from imagesets` they are the
split: train.txt -> train, val.txt -> validate, test.txt -> test (trainval.txt is
train + val and decides nothing). An annotation is matched by its XML's name (the
list's id) within its devkit, the folder holding `Annotations/` and `ImageSets/`.
An annotation in no list (VOC keeps segmentation- and action-only pictures in
Annotations/ too), or in two, is left out and listed (`not_in_split_lists`);
`--negatives` pictures train. The stratified split's guarantees do not apply:
byte-identical pictures the lists put on different sides are reported
(`identical_across_splits`).
"""
from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field

from odhelper import log
from odhelper.data import split, worker
from odhelper.data.discover import FileIndex
from odhelper.data.problems import Report, problem
from odhelper.errors import UsageError

LIST_SIDES = {"train": split.TRAIN, "val": split.VALIDATE, "test": split.TEST}
LIST_NAMES = ("train", "val", "trainval", "test")
IMAGESETS = "imagesets"  # the --split-from value


@dataclass
class Devkit:
    folder: str  # holds Annotations/ and ImageSets/
    lists: dict[str, set[str]] = field(default_factory=dict)  # "train" -> lower-case ids

    def side(self, stem: str) -> tuple[str | None, list[str]]:
        """(the side of an id or None, the lists that name it)."""
        named = [name for name in LIST_SIDES if stem in self.lists.get(name, ())]
        return (LIST_SIDES[named[0]] if len(named) == 1 else None), named


def find(index: FileIndex) -> list[Devkit]:
    """Every devkit under the input that has ImageSets/Main lists (from the file index)."""
    devkits = []
    for directory, names in sorted(index.dirs.items()):
        parent = os.path.dirname(directory)
        if os.path.basename(directory).lower() != "main" or \
                os.path.basename(parent).lower() != "imagesets":
            continue
        devkit = Devkit(os.path.dirname(parent))
        for name in LIST_NAMES:
            real = names.get(f"{name}.txt")
            if real:
                devkit.lists[name] = _ids(os.path.join(directory, real))
        if devkit.lists:
            devkits.append(devkit)
    return devkits


def _ids(path: str) -> set[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return {line.split()[0].lower() for line in stream if line.split()}
    except OSError as exc:
        raise UsageError(f"{path}: unreadable ({exc.strerror or exc})") from None


def announce(devkits: list[Devkit], root: str, split_from: str, kind: str) -> "Lists | None":
    """Name the lists in the log; the Lists to split by, with --split-from imagesets."""
    using = split_from == IMAGESETS
    for devkit in devkits:
        where = os.path.relpath(os.path.join(devkit.folder, "ImageSets", "Main"), root)
        lists = ", ".join(f"{name}.txt ({len(ids)})" for name, ids in devkit.lists.items())
        log.info("VOC lists in %s: %s; %s", where.replace(os.sep, "/"), lists,
                 "the split follows train/val/test (--split-from imagesets)" if using else
                 "not used: the split is by -sr (--split-from imagesets would follow them)")
    if not using:
        return None
    if kind != "voc":
        raise UsageError(f"--split-from imagesets: for a VOC devkit; the input is {kind}")
    if not any(name in devkit.lists for devkit in devkits for name in LIST_SIDES):
        raise UsageError("--split-from imagesets: no ImageSets/Main/train.txt, val.txt or "
                         "test.txt under the input")
    return Lists(devkits, root)


class Lists:
    """Which side each annotation goes to, by its devkit's lists."""

    def __init__(self, devkits: list[Devkit], root: str):
        self.devkits = {devkit.folder: devkit for devkit in devkits}
        self.root = root
        self.sides: dict[int, str] = {}  # id(item) -> side

    def _devkit(self, item: worker.Item) -> Devkit | None:
        folder = os.path.dirname(item.source_file or os.path.join(self.root, item.xml))
        while len(folder) > len(self.root) and os.path.basename(folder).lower() != \
                "annotations":
            folder = os.path.dirname(folder)
        return self.devkits.get(os.path.dirname(folder))

    def keep_listed(self, items: list[worker.Item], report: Report) -> list[worker.Item]:
        """The items the lists put on one side (--negatives pictures: train); the
        others reported and left out."""
        kept = []
        for item in items:
            devkit, side, named = None, None, []
            if item.annotation is not None and item.annotation.source == worker.UNANNOTATED:
                side = split.TRAIN
            else:
                devkit = self._devkit(item)
                stem = os.path.splitext(os.path.basename(item.xml))[0].lower()
                side, named = devkit.side(stem) if devkit else (None, [])
            if side is None:
                report.add(problem(item.xml, "not_in_split_lists", (
                    f"in {' and '.join(n + '.txt' for n in named)}" if named else
                    "in none of train.txt, val.txt, test.txt" if devkit else
                    "not in a VOC devkit (Annotations/ beside ImageSets/)")))
                continue
            self.sides[id(item)] = side
            kept.append(item)
        counts = collections.Counter(self.sides[id(item)] for item in kept)
        log.info("Split by the VOC lists: %s; %d annotations left out (not_in_split_lists)",
                 ", ".join(f"{side} {counts[side]}" for side in LIST_SIDES.values()),
                 len(items) - len(kept))
        return kept

    def parts(self, groups: dict[str, list[worker.Item]]) -> dict[str, list[worker.Item]]:
        """The kept items per side (test only if any goes there)."""
        parts: dict[str, list[worker.Item]] = {split.TRAIN: [], split.VALIDATE: []}
        for twins in groups.values():
            for item in twins:
                parts.setdefault(self.sides[id(item)], []).append(item)
        return parts
