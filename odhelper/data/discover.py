"""Find the annotations and, for each, its image, without trusting `<path>`.

One walk over the input (and `--images`) lists every file once; lookups then
use that index, so no per-image `stat`/`listdir` is needed. The image is looked
for, by `<filename>` (case-insensitively), only in the XML's own places: beside
the XML, in the layout's image folder (`Annotations/` -> `JPEGImages/`,
`annotations/` -> `images/`, same sub-path), in `--images` (mirrored sub-path,
then its top). Failing that, an image named like the XML's stem (or
`<filename>`'s stem with another extension) in those places is taken, and said
so (`PAIRED_BY_STEM`). Only when none of these places has a picture does the
wider search of pairing.py look in the other folders, after pass 1.
"""
from __future__ import annotations

import hashlib
import ntpath
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                    ".jpe", ".jfif")
# Annotation folder name (lower case) -> the image folders of the same layout.
LAYOUT_FOLDERS = {"annotations": ("JPEGImages", "images", "Images"),
                  "annotation": ("images", "Images"), "xml": ("images", "Images"),
                  "xmls": ("images", "Images"), "labels": ("images", "Images")}
# How an image was paired with its XML, best first (two XMLs claiming one image:
# the better pairing is kept).
PAIRED_BESIDE = "beside"  # the image's own XML: same folder, same stem
PAIRED_BY_FILENAME = "filename"  # <filename> found in one of the XML's places
PAIRED_ELSEWHERE = "elsewhere"  # <filename> found by the wider search (pairing.py)
PAIRED_BY_STEM = "stem"  # fallback: named like the XML (or <filename> with another extension)
PAIRING_RANK = {PAIRED_BESIDE: 0, PAIRED_BY_FILENAME: 1, PAIRED_ELSEWHERE: 2, PAIRED_BY_STEM: 3}


@dataclass
class FileIndex:
    """Every file under the searched roots: directory -> {lower-case name: real name}."""
    roots: list[Path]
    dirs: dict[str, dict[str, str]] = field(default_factory=dict)
    xml_files: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # XML and images: the fingerprinted files
    kind: str = "voc"  # the annotation format found (data/formats.py)


def _walk(root: Path, index: FileIndex, collect_xml: bool) -> None:
    seen: set[str] = set()  # real paths: a symlink loop is walked once
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        names = index.dirs.setdefault(dirpath, {})
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            names.setdefault(name.lower(), name)
            lower = name.lower()
            path = os.path.join(dirpath, name)
            if collect_xml and lower.endswith(".xml"):
                index.xml_files.append(path)
            elif not lower.endswith(IMAGE_EXTENSIONS):
                continue
            index.files.append(path)


def build_index(input_dir: Path, images_dir: Path | None = None) -> FileIndex:
    """Walk the input (and images) folders once; XML files in a sorted order."""
    roots = [input_dir.resolve()] + ([images_dir.resolve()] if images_dir else [])
    index = FileIndex(roots)
    _walk(roots[0], index, collect_xml=True)
    if images_dir is not None:
        _walk(roots[1], index, collect_xml=False)
    index.xml_files.sort()
    return index


def file_stats(paths: list[str]) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of each file that can be stat'ed."""
    stats = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        stats.append((path, info.st_size, info.st_mtime_ns))
    return stats


def fingerprint_files(index: FileIndex) -> str:
    """Hash of every XML's and image's path, size and modification time."""
    digest = hashlib.sha256()
    for path, size, mtime in sorted(file_stats(index.files)):
        digest.update(f"{path}\0{size}\0{mtime}\n".encode())
    return digest.hexdigest()


def unsafe_reason(filename: str) -> str | None:
    """Why a `<filename>` must not be used as a path (absolute, or leaving its folder)."""
    if not filename:
        return None
    if "/" not in filename and "\\" not in filename and ":" not in filename:  # a plain name
        return f"{filename!r} leaves the folder of its XML" if filename == ".." else None
    if filename.startswith(("/", "\\")) or ntpath.splitdrive(filename)[0]:
        return f"absolute path {filename!r}"
    parts = PurePosixPath(filename.replace("\\", "/")).parts
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return f"{filename!r} leaves the folder of its XML"
    return None


class ImageFinder:
    """Resolve an annotation's image from the index (runs in the worker processes)."""

    def __init__(self, index: FileIndex, images_dir: Path | None):
        self.index = index
        self.images_root = str(images_dir.resolve()) if images_dir else None

    def _in_dir(self, directory: str, name: str) -> str | None:
        real = (self.index.dirs.get(directory) or {}).get(name.lower())
        return os.path.join(directory, real) if real else None

    def _candidate_dirs(self, xml_path: str, relative_name: str) -> Iterator[str]:
        """The folders the picture may be in, nearest first, each once, normalised."""
        xml_dir = os.path.dirname(xml_path)
        sub = os.path.dirname(relative_name)
        seen: set[str] = set()

        def new(directory: str) -> bool:
            if directory in seen:
                return False
            seen.add(directory)
            return True

        first = os.path.normpath(os.path.join(xml_dir, sub))
        if new(first):
            yield first
        root = str(self.index.roots[0])
        folder, below = xml_dir, ""
        while len(folder) > len(root):  # an annotations/ folder at or above the XML
            for images in LAYOUT_FOLDERS.get(os.path.basename(folder).lower(), ()):
                candidate = os.path.normpath(
                    os.path.join(os.path.dirname(folder), images, below, sub))
                if new(candidate):
                    yield candidate
            below = os.path.join(os.path.basename(folder), below)
            folder = os.path.dirname(folder)
        if self.images_root:
            mirrored = os.path.relpath(xml_dir, root)
            for candidate in (os.path.join(self.images_root, mirrored, sub),
                              os.path.join(self.images_root, sub)):
                candidate = os.path.normpath(candidate)
                if new(candidate):
                    yield candidate

    def _by_stem(self, directory: str, stem: str) -> str | None:
        names = self.index.dirs.get(directory) or {}
        for extension in IMAGE_EXTENSIONS:
            real = names.get((stem + extension).lower())
            if real:
                return os.path.join(directory, real)
        return None

    def find(self, xml_path: str, filename: str) -> tuple[str | None, str]:
        """(path of the image or None, how it was paired: a PAIRED_* value).
        `filename` must already be checked as safe."""
        relative = filename.replace("\\", "/") if filename else ""
        base = os.path.basename(relative)
        dirs, found = [], None
        for directory in self._candidate_dirs(xml_path, relative):  # mostly the first
            dirs.append(directory)
            found = self._in_dir(directory, base) if base else None
            if found:
                break
        how = PAIRED_BY_FILENAME
        if found is None:  # `dirs` holds every candidate now
            stems = [os.path.splitext(base)[0]] if base else []
            stems.append(os.path.splitext(os.path.basename(xml_path))[0])
            found = next(filter(None, (self._by_stem(d, stem) for stem in dict.fromkeys(stems)
                                       for d in dirs)), None)
            how = PAIRED_BY_STEM
        if found and os.path.dirname(found) == os.path.dirname(xml_path) and \
                os.path.splitext(os.path.basename(found))[0].lower() == \
                os.path.splitext(os.path.basename(xml_path))[0].lower():
            how = PAIRED_BESIDE if how == PAIRED_BY_FILENAME else how
        return found, how
