"""Sample detections for the report: validation pictures with their ground truth
(white) and the exported model's detections (colour). The workflow that builds the
report reads the records and runs the model (workflows/report.py); this only draws."""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from odhelper.metrics.matching import ImageResult
from odhelper.report import draw, markup, plots


@dataclass
class Samples:
    pictures: Sequence[tuple[np.ndarray, ImageResult]]  # pixels; ground truth + detections
    names: Mapping[int, str]  # the model's label map, id -> name
    rule: str  # the score rule the detections were kept with, in words


def section(samples: Samples | None) -> str:
    """The report section: the grid and what it shows, or a note."""
    from PIL import Image

    if samples is None or not samples.pictures:
        return markup.note("no exported model or no evaluation records to draw from.")
    grid = plots.image_grid(
        [draw.truth_and_detections(Image.fromarray(image), result.gt_boxes, result.detections,
                                   samples.names) for image, result in samples.pictures],
        [f"{result.image_id}: {len(result.detections)} found, {len(result.gt_boxes)} true"
         for _, result in samples.pictures])
    return (markup.img(grid, "sample detections")
            + f"<p>{len(samples.pictures)} pictures; white: ground truth, colour: detections "
            f"with scores. {html.escape(samples.rule)}.</p>")
