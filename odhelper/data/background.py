"""Background (negative) pictures: pictures that show none of the classes.

The OD API trains on an example with zero boxes (it teaches the detector where
nothing is, against false alarms). Two sources: an annotation with no object at
all (kept unless --no-background), and `--negatives DIR`, pictures without any
annotation. The split treats background as one more class, so validation holds
its share of them.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from odhelper import log
from odhelper.data import discover, worker
from odhelper.data.annotation import Annotation
from odhelper.errors import OdhelperError

SPLIT_KEY = "\0background"  # a pseudo-class for the split only (never in the label map)
TOO_MANY = 0.5  # share of the training pictures above which a warning is logged


def picture_paths(folder: Path) -> list[str]:
    """Every image under `folder`, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [os.path.join(dirpath, name) for name in sorted(filenames)
                  if not name.startswith(".") and name.lower().endswith(discover.IMAGE_EXTENSIONS)]
    return found


def negative_items(folder: Path, hash_early: bool) -> list[worker.Item]:
    """One usable, box-less item per picture of `--negatives DIR`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise OdhelperError(f"--negatives {folder}: folder not found")
    root = folder.resolve()
    items = []
    for path in picture_paths(root):
        name = f"{root.name}/{os.path.relpath(path, root).replace(os.sep, '/')}"
        item = worker.Item(xml=name, image_path=path, image_name=name, usable=True,
                           annotation=Annotation(os.path.basename(path), 0, 0,
                                                 source=worker.UNANNOTATED))
        if hash_early:
            data = Path(path).read_bytes()
            item.sha256, item.nbytes = hashlib.sha256(data).hexdigest(), len(data)
        else:
            item.nbytes = os.stat(path).st_size
        items.append(item)
    if not items:
        log.warning("--negatives %s: no pictures found", folder)
    return items


def fingerprint(folder: Path | None) -> str:
    """Paths, sizes and times of the --negatives pictures ('' without the option)."""
    if folder is None or not Path(folder).is_dir():
        return ""
    return "\n".join(f"{p}\0{s}\0{t}" for p, s, t in
                     discover.file_stats(picture_paths(Path(folder).resolve())))


def count(items) -> int:
    return sum(1 for item in items if not item.boxes)


def warn_share(train_items: list) -> None:
    """Warn when background pictures are more than half of the training pictures."""
    background = count(train_items)
    if train_items and background > TOO_MANY * len(train_items):
        log.warning("Background pictures are %d of the %d training pictures (%.0f %%): the "
                    "detector sees few objects per step; consider fewer negatives",
                    background, len(train_items), 100.0 * background / len(train_items))
