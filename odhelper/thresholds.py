"""Which detections are kept: the one place that decides the score thresholds and
applies them, for pictures, videos, active-learn and the report.

The rule: a threshold given by the user holds for every class; without one, the
per-class operating points shipped beside the exported model (thresholds.json,
written by `odhelper evaluate`) hold for their classes and DEFAULT_THRESHOLD for
any other; without that file, DEFAULT_THRESHOLD holds for every class.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from odhelper.detections import Detections, class_name
from odhelper.errors import OdhelperError
from odhelper.rundir import THRESHOLDS

DEFAULT_THRESHOLD = 0.5


def read_thresholds(path: Path) -> dict[str, float] | None:
    """Class name -> threshold from a thresholds.json; None when the file is absent."""
    if not Path(path).is_file():
        return None
    try:
        found = json.loads(Path(path).read_text(encoding="utf-8"))
        return {name: float(item["threshold"]) for name, item in found["classes"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise OdhelperError(f"{path}: not a thresholds file ({exc})") from exc


@dataclass(frozen=True)
class ScoreRule:
    """A score threshold per class name; `other` for every class not listed."""
    other: float = DEFAULT_THRESHOLD
    per_class: dict[str, float] = field(default_factory=dict)
    source: Path | None = None  # the thresholds.json per_class comes from

    @property
    def floor(self) -> float:
        """The lowest threshold of the rule: nothing below it is ever kept."""
        return min([self.other, *self.per_class.values()])

    def needed(self, found: Detections, names: Mapping[int, str]) -> np.ndarray:
        """The threshold each detection must reach."""
        return np.array([self.per_class.get(class_name(names, c), self.other)
                         for c in found.classes], np.float32)

    def apply(self, found: Detections, names: Mapping[int, str]) -> Detections:
        """The detections the rule keeps (`names`: the label map, id -> name)."""
        return found.above(self.needed(found, names))

    def describe(self) -> str:
        """One line for the log."""
        if not self.per_class:
            return f"Score threshold {self.other:.2f} for every class"
        shown = ", ".join(f"{name} {value:.3f}" for name, value in self.per_class.items())
        return (f"Score thresholds per class from {self.source}: {shown} (other classes "
                f"{self.other:.2f})")

    def short(self) -> str:
        """A few words: "the per-class thresholds" or the one threshold."""
        return "the per-class thresholds" if self.per_class else f"{self.other:.2f}"


def decide(export: Path | None, threshold: float | None = None) -> ScoreRule:
    """The rule for a model exported into folder `export` (None: no shipped
    thresholds) when the user gave `threshold` (None: not given)."""
    if threshold is not None:
        return ScoreRule(float(threshold))
    source = Path(export) / THRESHOLDS if export is not None else None
    shipped = read_thresholds(source) if source is not None else None
    return ScoreRule(DEFAULT_THRESHOLD, shipped, source) if shipped else ScoreRule()
