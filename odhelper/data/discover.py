"""Find the annotations and, for each, its image, without trusting `<path>`.

One walk over the input (and `--images`) lists every file once; lookups then
use that index, so no per-image `stat`/`listdir` is needed. Order: `<filename>`
next to the XML, in a VOC `JPEGImages/` sibling of `Annotations/`, in
`--images` (mirrored sub-path), all case-insensitively; then anywhere under
the input or `--images` by that name (e.g. `images/` beside `annotations/`);
then the XML's stem with any image extension in those folders.
"""
from __future__ import annotations

import hashlib
import ntpath
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                    ".jpe", ".jfif")


@dataclass
class FileIndex:
    """Every file under the searched roots: directory -> {lower-case name: real name}."""
    roots: list[Path]
    dirs: dict[str, dict[str, str]] = field(default_factory=dict)
    by_name: dict[str, list[str]] = field(default_factory=dict)  # lower name -> image paths
    xml_files: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # XML and images: the fingerprinted files


def _walk(root: Path, index: FileIndex, collect_xml: bool, by_name: bool) -> None:
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
            elif lower.endswith(IMAGE_EXTENSIONS):
                if by_name:
                    index.by_name.setdefault(lower, []).append(path)
            else:
                continue
            index.files.append(path)


def build_index(input_dir: Path, images_dir: Path | None = None) -> FileIndex:
    """Walk the input (and images) folders once; XML files in a sorted order."""
    roots = [input_dir.resolve()] + ([images_dir.resolve()] if images_dir else [])
    index = FileIndex(roots)
    _walk(roots[0], index, collect_xml=True, by_name=True)
    if images_dir is not None:
        _walk(roots[1], index, collect_xml=False, by_name=True)
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
        names = self.index.dirs.get(os.path.normpath(directory))
        if not names:
            return None
        real = names.get(name.lower())
        return os.path.join(os.path.normpath(directory), real) if real else None

    def _candidate_dirs(self, xml_path: str, relative_name: str) -> list[str]:
        xml_dir = os.path.dirname(xml_path)
        sub = os.path.dirname(relative_name)
        dirs = [os.path.join(xml_dir, sub)]
        if os.path.basename(xml_dir) == "Annotations":  # VOC devkit layout
            dirs.append(os.path.join(os.path.dirname(xml_dir), "JPEGImages", sub))
        if self.images_root:
            mirrored = os.path.relpath(xml_dir, self.index.roots[0])
            dirs.append(os.path.join(self.images_root, mirrored, sub))
            dirs.append(os.path.join(self.images_root, sub))
        return dirs

    def _by_stem(self, directory: str, stem: str) -> str | None:
        names = self.index.dirs.get(os.path.normpath(directory)) or {}
        for extension in IMAGE_EXTENSIONS:
            real = names.get((stem + extension).lower())
            if real:
                return os.path.join(os.path.normpath(directory), real)
        return None

    def _anywhere(self, xml_path: str, name: str) -> str | None:
        """An image of that name anywhere under the roots (an images/ folder beside
        annotations/); of several, the one sharing the longest path with the XML."""
        matches = self.index.by_name.get(name.lower())
        if not matches:
            return None
        return max(matches, key=lambda p: (len(os.path.commonpath([p, xml_path])), p == min(matches)))

    def find(self, xml_path: str, filename: str) -> str | None:
        """Path of the image, or None. `filename` must already be checked as safe."""
        relative = filename.replace("\\", "/") if filename else ""
        dirs = self._candidate_dirs(xml_path, relative)
        base = os.path.basename(relative)
        if base:
            for directory in dirs:  # exact or case-insensitive name
                found = self._in_dir(directory, base)
                if found:
                    return found
            found = self._anywhere(xml_path, base)
            if found:
                return found
        stems = [os.path.splitext(base)[0]] if base else []
        stems.append(os.path.splitext(os.path.basename(xml_path))[0])
        for stem in dict.fromkeys(stems):
            for directory in dirs:
                found = self._by_stem(directory, stem)
                if found:
                    return found
        return None
