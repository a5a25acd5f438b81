"""Named reasons for everything the converter skips, drops, fixes or notes, and their report.

Nothing is lost silently: each problem names the file, the reason, a detail and
what was done about it. `dataset.json` lists them all; the log prints a count
per reason and the first few of each.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass

from odhelper.errors import OdhelperError

# Severity: "error" = the image is not converted, "warning" = part of it was
# dropped or changed, "info" = kept as is, worth knowing.
REASONS: dict[str, tuple[str, str]] = {
    # reason: (severity, what the converter does)
    "malformed_xml": ("error", "annotation skipped"),
    "not_an_annotation": ("error", "annotation skipped"),
    "unsafe_filename": ("error", "annotation skipped (filename escapes the input folder)"),
    "missing_image": ("error", "annotation skipped"),
    "ambiguous_image": ("error", "annotation skipped (several pictures of its <filename>, "
                                 "none nearer: not guessed)"),
    "image_annotated_twice": ("error", "annotation skipped (the image's other XML is kept: "
                                       "see the detail)"),
    "paired_by_name": ("warning", "paired by name (fallback): check that it is the right "
                                  "picture"),
    "unreadable_image": ("error", "annotation skipped"),
    "truncated_image": ("error", "annotation skipped"),
    "corrupt_image": ("error", "annotation skipped"),
    "too_many_pixels": ("error", "annotation skipped (downscale the picture or raise "
                                 "--max-pixels)"),
    "failed_while_writing": ("error", "left out of the records (it could not be "
                                      "re-encoded)"),
    "no_objects": ("warning", "image skipped (its boxes were all dropped; an annotation "
                              "without any object is kept as background)"),
    "negative_image": ("info", "kept as a background picture with zero boxes "
                               "(--no-background leaves it out)"),
    "unknown_category": ("warning", "box dropped (its class id is not among the dataset's "
                                    "classes)"),
    "size_missing": ("warning", "real pixel size used"),
    "size_mismatch": ("warning", "real pixel size used"),
    "bad_coordinates": ("warning", "box dropped"),
    "empty_class_name": ("warning", "box dropped"),
    "unknown_class": ("warning", "box dropped (class not in the label map)"),
    "box_clipped": ("warning", "box clipped to the image"),
    "box_outside_image": ("warning", "box dropped"),
    "box_degenerate": ("warning", "box dropped (zero or negative area)"),
    "difficult_skipped": ("info", "box dropped (--skip-difficult)"),
    "duplicate_box": ("warning", "kept (near-identical box of the same class, IoU > 0.95)"),
    "many_boxes": ("warning", "kept; the training config's max_number_of_boxes (and max "
                              "detections) are raised to fit it"),
    "identical_images": ("warning", "kept, grouped: always on the same side of the split"),
    "identical_across_splits": ("warning", "kept where the split lists put it: the same "
                                           "picture is on two sides of the split"),
    "not_in_split_lists": ("info", "left out: --split-from imagesets and the ImageSets lists "
                                   "put it on no side (or on two)"),
    "exif_rotated": ("warning", "stored pixels match the orientation the boxes were drawn on"),
    "grayscale_image": ("info", "kept as is (the decoder expands it to 3-channel RGB)"),
    "converted_image": ("info", "re-encoded so that it decodes to 3-channel RGB"),
    "kept_in_validation": ("info", "not trained on: already in the kept validation split"),
    "near_kept_validation": ("info", "not trained on: a near-duplicate of a picture in the "
                                     "kept validation (or test) split"),
}

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Problem:
    file: str
    reason: str
    detail: str = ""
    action: str = ""

    @property
    def severity(self) -> str:
        return REASONS[self.reason][0]

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason, "detail": self.detail,
                "action": self.action, "severity": self.severity}


def problem(file: str, reason: str, detail: str = "", action: str | None = None) -> Problem:
    """A Problem with the reason's default action unless one is given."""
    if reason not in REASONS:
        raise ValueError(f"unknown problem reason {reason!r}")
    return Problem(file, reason, detail, REASONS[reason][1] if action is None else action)


class StrictModeError(OdhelperError):
    """Raised under --strict on the first problem."""


class Report:
    """All problems of one conversion, in a stable order."""

    def __init__(self, strict: bool = False):
        self.strict = strict
        self.problems: list[Problem] = []
        self._sorted: list[Problem] = []

    def add(self, item: Problem) -> None:
        self.problems.append(item)
        if self.strict and item.severity != "info":
            raise StrictModeError(f"{item.file}: {item.reason}: {item.detail} (--strict)")

    def extend(self, items) -> None:
        for item in items:
            self.add(item)

    def sorted(self) -> list[Problem]:
        if len(self._sorted) != len(self.problems):  # problems are only ever added
            self._sorted = sorted(self.problems, key=lambda p: (p.file, p.reason, p.detail))
        return self._sorted

    def counts(self) -> dict[str, int]:
        counter = collections.Counter(p.reason for p in self.problems)
        return dict(sorted(counter.items(),
                           key=lambda kv: (SEVERITY_ORDER[REASONS[kv[0]][0]], kv[0])))

    def to_list(self) -> list[dict[str, str]]:
        return [p.to_dict() for p in self.sorted()]

    def log_summary(self, examples: int = 3) -> None:
        """One line per reason with its count, then its first few files."""
        from odhelper import log

        if not self.problems:
            log.info("Validation: no problems found")
            return
        by_reason = collections.defaultdict(list)
        for item in self.sorted():
            by_reason[item.reason].append(item)
        log.info("Validation: %d problems (all listed in dataset.json)", len(self.problems))
        for reason, count in self.counts().items():
            severity, action = REASONS[reason]
            say = log.warning if severity != "info" else log.info
            say("  %-22s %5d  %s", reason, count, action)
            for item in by_reason[reason][:examples]:
                say("      %s: %s", item.file, item.detail)
