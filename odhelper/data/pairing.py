"""The wider search for a picture, after pass 1, and where the pictures were found.

Pass 1 (discover.ImageFinder) looks for an annotation's picture only in its own
places: beside it, its layout's picture folder, `--images`. An annotation whose
picture is in none of them (`annots/` + `images/`, `xml/` + `jpg/`, the
Oxford-IIIT Pet layout...) is looked for here, by `<filename>`, in every folder
of the input and `--images`, nearest first: under the annotation's own folder,
under each folder above it, then anywhere. At the first level holding pictures
of that name, the one picture that no other annotation has is taken; a picture
another annotation found in its own places, or one sitting among annotations (a
folder of pictures with their XMLs beside them), is never taken; several
pictures are refused, naming each. When none is found, the problem says where
same-named pictures are, if anywhere (also just outside the input), and which
option fixes it.
"""
from __future__ import annotations

import collections
import os
import posixpath

from odhelper import log
from odhelper.data import worker
from odhelper.data.discover import IMAGE_EXTENSIONS, PAIRED_ELSEWHERE, FileIndex
from odhelper.data.problems import problem

FOLDER_LINES = 12  # (annotation folder, picture folder) lines in the log; the rest counted
NEARBY_FOLDERS = 64  # folders beside the input looked into for a missing picture's hint
NEARBY_FILES = 20000  # names read per such folder at most


def resolve(items: list[worker.Item], index: FileIndex) -> None:
    """Pair the items pass 1 left `wanted` (each found is `worker.accept`ed, each not
    found gets its problem), then log where the pictures were found."""
    waiting = [item for item in items if item.wanted]
    if waiting:
        search = _Search(index, {item.image_path: item.xml for item in items
                                 if item.image_path})
        for item in waiting:
            search.pair(item)
    _log_folder_pairs(items, index)


class _Search:
    def __init__(self, index: FileIndex, owners: dict[str, str]):
        self.index, self.owners = index, owners  # owners: picture -> the XML that has it
        self.root = str(index.roots[0])
        self.by_name: dict[str, list[str]] = {}  # lower-case name -> pictures
        for directory, names in index.dirs.items():
            for lower, real in names.items():
                if lower.endswith(IMAGE_EXTENSIONS):
                    self.by_name.setdefault(lower, []).append(os.path.join(directory, real))
        self.annotated = {os.path.dirname(path) for path in index.xml_files}
        self._nearby: dict[str, str] | None = None

    def _nearest(self, folder: str, wanted: str) -> list[str]:
        """The pictures `wanted` names at the nearest level holding any: under `folder`,
        under each folder above it inside the input, then anywhere. A <filename> with
        folders (`cats/1.jpg`) prefers the pictures whose path ends so."""
        everywhere = _distinct(self.by_name.get(posixpath.basename(wanted).lower(), []))
        if "/" in wanted:
            tail = "/" + posixpath.normpath(wanted).lower()
            ending = [p for p in everywhere if p.replace(os.sep, "/").lower().endswith(tail)]
            everywhere = ending or everywhere
        while len(folder) > len(self.root) and folder.startswith(self.root):
            here = [path for path in everywhere if path.startswith(folder + os.sep)]
            if here:
                return here
            folder = os.path.dirname(folder)
        return everywhere

    def _taken_by(self, path: str) -> str | None:
        """Why `path` is not free: the XML that has it, or the annotations beside it."""
        if path in self.owners:
            return f"{self.owners[path]} has it"
        if os.path.dirname(path) in self.annotated:
            return "it sits among other annotations"
        return None

    def pair(self, item: worker.Item) -> None:
        wanted = item.wanted.replace("\\", "/")
        name = posixpath.basename(wanted)
        found = self._nearest(os.path.dirname(item.source_file), wanted)
        free = [path for path in found if self._taken_by(path) is None]
        annotation, item.annotation, item.wanted = item.annotation, None, ""
        if len(free) == 1:
            item.pairing = PAIRED_ELSEWHERE
            worker.accept(item, annotation, free[0], worker.relative(free[0], self.index.roots))
        elif free:
            item.problems.append(problem(item.xml, "ambiguous_image", (
                f"{len(free)} pictures named {name!r}, equally near: "
                f"{', '.join(self._shown(p) for p in free)}; give --images with the folder "
                "of this XML's pictures")))
        elif found and all(path in self.owners for path in found):
            item.problems.append(problem(item.xml, "image_annotated_twice", (
                f"{', '.join(self._shown(p) for p in found)}, the nearest picture named "
                f"{name!r}, is kept for {self.owners[found[0]]}, which found it in its own "
                "places")))
        elif found:
            taken = "; ".join(f"{self._shown(p)}: {self._taken_by(p)}" for p in found)
            loose = next(p for p in found if p not in self.owners)
            item.problems.append(problem(item.xml, "missing_image", (
                f"no free picture named {name!r} ({taken}); if it is this XML's picture, "
                f"give --images {_typed(os.path.dirname(loose))}")))
        else:
            item.problems.append(problem(item.xml, "missing_image", self._nowhere(name)))

    def _nowhere(self, name: str) -> str:
        searched = "the input" + (" or --images" if len(self.index.roots) > 1 else "")
        folder = self._nearby_folders().get(name.lower())
        if folder:
            return (f"no picture named {name!r} under {searched}; one is in {folder}, "
                    f"outside it: give --images {_typed(folder)} (or -i a folder holding both)")
        return (f"no picture named {name!r} (nor one named like the XML) anywhere under "
                f"{searched}; give --images with the folder of the pictures (or -i a folder "
                "holding both)")

    def _nearby_folders(self) -> dict[str, str]:
        """lower-case picture name -> a folder near the input, outside it, holding it:
        the input's parent and two levels below it, its grandparent and one level
        below. Read once, and only for a missing picture's message."""
        if self._nearby is None:
            self._nearby = {}
            root = os.path.realpath(self.root)
            parent = os.path.dirname(root)
            folders: list[str] = []
            for base, depth in ((parent, 2), (os.path.dirname(parent), 1)):
                level = [base]
                for _ in range(depth + 1):
                    folders += level
                    if len(folders) >= NEARBY_FOLDERS:
                        break
                    level = [sub for folder in level for sub in _subfolders(folder, root)]
            for folder in list(dict.fromkeys(folders))[:NEARBY_FOLDERS]:
                for lower in _picture_names(folder):
                    self._nearby.setdefault(lower, folder)
        return self._nearby

    def _shown(self, path: str) -> str:
        return _shown(path, self.root)


def _distinct(paths: list[str]) -> list[str]:
    """One path per real file (a folder reached twice, e.g. --images inside the input)."""
    if len(paths) < 2:
        return paths
    seen: dict[str, str] = {}
    for path in paths:
        seen.setdefault(os.path.realpath(path), path)
    return list(seen.values())


def _subfolders(base: str, skip: str) -> list[str]:
    try:
        with os.scandir(base) as entries:
            return sorted(entry.path for entry in entries if entry.is_dir()
                          and not entry.name.startswith(".") and entry.path != skip)
    except OSError:
        return []


def _picture_names(folder: str) -> list[str]:
    names = []
    try:
        with os.scandir(folder) as entries:
            for number, entry in enumerate(entries):
                if number >= NEARBY_FILES:
                    break
                if entry.name.lower().endswith(IMAGE_EXTENSIONS):
                    names.append(entry.name.lower())
    except OSError:
        pass
    return names


def _typed(folder: str) -> str:
    """`folder` as one would type it here: relative to the working folder if inside."""
    relative = os.path.relpath(folder)
    return folder if relative.startswith("..") else relative


def _shown(path: str, root: str) -> str:
    """`path` relative to the input (its own name for the input itself), else as is."""
    if path == root:
        return os.path.basename(root) + "/"
    if path.startswith(root + os.sep):
        return os.path.relpath(path, root).replace(os.sep, "/")
    return path


def _log_folder_pairs(items: list[worker.Item], index: FileIndex) -> None:
    """`Pictures of annots/ found in images/ (160 of 160)`: one line per annotation
    folder whose pictures are somewhere else (not beside the XML)."""
    root = str(index.roots[0])
    totals: collections.Counter = collections.Counter()
    pairs: collections.Counter = collections.Counter()
    for item in items:
        origin = os.path.dirname(item.source_file or os.path.join(root, item.xml))
        totals[origin] += 1
        if item.image_path and os.path.dirname(item.image_path) != origin:
            pairs[origin, os.path.dirname(item.image_path)] += 1
    for (origin, folder), count in sorted(pairs.items())[:FOLDER_LINES]:
        log.info("Pictures of %s found in %s (%d of %d)", _folder(origin, root),
                 _folder(folder, root), count, totals[origin])
    if len(pairs) > FOLDER_LINES:
        log.info("... and %d more pairs of folders", len(pairs) - FOLDER_LINES)


def _folder(path: str, root: str) -> str:
    shown = _shown(path, root)
    return shown if shown.endswith("/") else shown + "/"
