"""The augmentation preview: training samples as the OD API's input pipeline makes
them (engine/train_samples.py), drawn in a grid with their boxes."""
from __future__ import annotations

import base64
from typing import Mapping, Sequence

from odhelper import log
from odhelper.report import draw, plots


def grid_png(samples: Sequence[tuple], class_names: Mapping[int, str]) -> bytes:
    """(pixels, boxes (xmin, ymin, xmax, ymax), class ids) samples in a grid, boxes
    drawn, as PNG bytes."""
    from PIL import Image

    pictures, titles = [], []
    for number, (pixels, boxes, classes) in enumerate(samples, start=1):
        image = Image.fromarray(pixels)
        draw.draw_boxes(image, boxes, [class_names.get(c, str(c)) for c in classes], classes)
        pictures.append(image)
        titles.append(f"sample {number}: {image.width}x{image.height}, {len(boxes)} boxes")
    log.info("Augmentation preview: %d training samples", len(pictures))
    return base64.b64decode(plots.image_grid(pictures, titles))
