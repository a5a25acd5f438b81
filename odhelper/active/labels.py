"""Adopted and candidate labels on disk: a LabelImg folder per class.

RUN/adopted/<class>/<picture> + .xml  machine-made boxes that train (verified="no")
RUN/review/<class>/<picture> + .xml   candidates for a person (`--review`); saving one in
                                      LabelImg with "verify" marks it verified="yes"
The picture is copied before its XML is written: an XML always has its picture.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from odhelper import files, log
from odhelper.active.adopt import Candidate
from odhelper.data import voc
from odhelper.data.annotation import write_xml


def _write(candidate: Candidate, folder: Path) -> Path:
    target = folder / candidate.image.label / candidate.image.path.name
    with files.atomic_path(target, suffix=target.suffix) as temp:
        shutil.copyfile(candidate.image.path, temp)
    return write_xml(candidate.annotation, target.with_suffix(".xml"))


def adopt_into(candidates: list[Candidate], adopted_dir: Path) -> dict[str, list[str]]:
    """Write each candidate to the adopted folder; pool keys by class."""
    by_class: dict[str, list[str]] = {}
    for candidate in candidates:
        _write(candidate, adopted_dir)
        by_class.setdefault(candidate.image.label, []).append(candidate.image.key)
    return by_class


def _is_verified(xml: Path) -> bool:
    try:
        annotation, _, _ = voc.parse(xml.read_bytes(), str(xml))
    except Exception as error:  # noqa: BLE001  (a half-edited file: not accepted yet)
        log.warning("%s: not readable, left for review (%s)", xml, error)
        return False
    return bool(annotation and annotation.verified)


@dataclass
class Reviewed:
    key: str  # the pool key '<class>/<picture>'
    label: str
    xml: Path
    picture: Path


def accepted(review_dir: Path) -> list[Reviewed]:
    """Candidates a person saved as verified (their picture still beside them)."""
    found = []
    for xml in sorted(review_dir.glob("*/*.xml")):
        pictures = [p for p in xml.parent.glob(xml.stem + ".*") if p.suffix != ".xml"]
        if pictures and _is_verified(xml):
            label = xml.parent.name
            found.append(Reviewed(f"{label}/{pictures[0].name}", label, xml, pictures[0]))
    return found


def take_accepted(reviewed: list[Reviewed], adopted_dir: Path) -> dict[str, list[str]]:
    """Copy accepted reviews into the adopted folder; pool keys by class. Their review
    files stay until `clear_reviewed`, once active.json records them (kill-safe)."""
    by_class: dict[str, list[str]] = {}
    for item in reviewed:
        target = adopted_dir / item.label / item.picture.name
        with files.atomic_path(target, suffix=target.suffix) as temp:
            shutil.copyfile(item.picture, temp)
        with files.atomic_path(target.with_suffix(".xml")) as temp:
            shutil.copyfile(item.xml, temp)
        by_class.setdefault(item.label, []).append(item.key)
    return by_class


def clear_reviewed(reviewed: list[Reviewed]) -> None:
    for item in reviewed:
        item.xml.unlink(missing_ok=True)
        item.picture.unlink(missing_ok=True)


def offer_for_review(candidates: list[Candidate], review_dir: Path) -> dict[str, list[str]]:
    """Write candidates for review, never over one a person already verified."""
    by_class: dict[str, list[str]] = {}
    for candidate in candidates:
        xml = review_dir / candidate.image.label / (candidate.image.path.stem + ".xml")
        if xml.exists() and _is_verified(xml):
            continue
        _write(candidate, review_dir)
        by_class.setdefault(candidate.image.label, []).append(candidate.image.key)
    return by_class
