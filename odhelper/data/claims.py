"""One annotation per image: when several XMLs lead to one picture, which is kept.

Best first: the picture's own XML (beside it, same name), then an XML whose
`<filename>` names it (found in its own places, then by the wider search of
pairing.py), then one paired only by name (the fallback); among equals
the first in path order. Each XML left out is a problem saying which one is kept
and why; the kept XML is never a stranger's when the picture's own is there.
"""
from __future__ import annotations

from odhelper.data.discover import PAIRED_BESIDE, PAIRED_BY_FILENAME, PAIRED_ELSEWHERE, \
    PAIRING_RANK
from odhelper.data.problems import Report, problem

_WHY = {PAIRED_BESIDE: "it is the picture's own XML (beside it, same name)",
        PAIRED_BY_FILENAME: "its <filename> names the picture, in its own places",
        PAIRED_ELSEWHERE: "its <filename> names the picture"}


def keep(items: list, report: Report) -> list:
    """`items` (usable, with `image_path`, `pairing`, `xml`) with one per image, in
    their order; the others reported as `image_annotated_twice`."""
    by_image: dict[str, list] = {}
    for item in items:
        by_image.setdefault(item.image_path, []).append(item)
    dropped = set()
    for claimants in by_image.values():
        if len(claimants) < 2:
            continue
        ranked = sorted(claimants, key=lambda i: (PAIRING_RANK[i.pairing], i.xml))
        kept = ranked[0]
        why = _WHY.get(kept.pairing, "paired by name like this one") \
            if PAIRING_RANK[kept.pairing] < PAIRING_RANK[ranked[1].pairing] \
            else f"same kind of pairing, first in path order ({_kind(kept.pairing)})"
        for other in ranked[1:]:
            dropped.add(id(other))
            report.add(problem(other.xml, "image_annotated_twice",
                               f"{kept.image_name} is also claimed by {kept.xml}, which is "
                               f"kept: {why}"))
    return [item for item in items if id(item) not in dropped]


def _kind(pairing: str) -> str:
    return {PAIRED_BESIDE: "both beside it", PAIRED_BY_FILENAME: "both name it in "
            "<filename>", PAIRED_ELSEWHERE: "both name it in <filename>, found in another "
            "folder"}.get(pairing, "both paired by name")
