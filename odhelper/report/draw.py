"""Draw detections (boxes, class names, scores) on a picture with PIL."""
from __future__ import annotations

from typing import Mapping, Sequence

from PIL import Image, ImageDraw, ImageFont, ImageOps

from odhelper.detections import Detections

GROUND_TRUTH = (255, 255, 255)
PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40))


def colour(class_id: int) -> tuple[int, int, int]:
    return PALETTE[(int(class_id) - 1) % len(PALETTE)]


def open_rgb(path) -> Image.Image:
    """The picture as a viewer shows it (EXIF orientation applied), in RGB."""
    with Image.open(path) as image:
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        return ImageOps.exif_transpose(image).convert("RGB")


def draw_boxes(image: Image.Image, boxes: Sequence[Sequence[float]], labels: Sequence[str],
               class_ids: Sequence[int]) -> Image.Image:
    """Boxes are pixels (xmin, ymin, xmax, ymax); labels like 'dog 0.93'."""
    draw = ImageDraw.Draw(image)
    width = max(2, round(min(image.size) / 200))
    font = ImageFont.load_default(size=max(11, round(min(image.size) / 30)))
    for box, label, class_id in zip(boxes, labels, class_ids):
        x0, y0, x1, y1 = (float(v) for v in box)
        tint = colour(class_id)
        draw.rectangle((x0, y0, x1, y1), outline=tint, width=width)
        left, top, right, bottom = draw.textbbox((x0, y0), label, font=font)
        lift = bottom - top + 4
        y_text = y0 - lift if y0 - lift >= 0 else y0
        draw.rectangle((x0, y_text, x0 + right - left + 6, y_text + lift), fill=tint)
        draw.text((x0 + 3, y_text + 2 - (top - y0)), label, fill=(255, 255, 255), font=font)
    return image


def draw_detections(image: Image.Image, found: Detections, names: Mapping[int, str]
                    ) -> Image.Image:
    """Each detection as a box labelled with its class name (label map `names`) and score."""
    return draw_boxes(image, found.xyxy, [f"{name} {score:.2f}" for name, score in
                                          zip(found.names(names), found.scores)],
                      found.classes)


def truth_and_detections(image: Image.Image, truth_yxyx, found: Detections,
                         names: Mapping[int, str]) -> Image.Image:
    """Ground-truth boxes (pixels, ymin, xmin, ymax, xmax) in white, then the detections."""
    outline = ImageDraw.Draw(image)
    for y0, x0, y1, x1 in truth_yxyx:
        outline.rectangle((float(x0), float(y0), float(x1), float(y1)), outline=GROUND_TRUTH,
                          width=1)
    return draw_detections(image, found, names)


def side_by_side(pixels, result, names: Mapping[int, str], threshold: float = 0.5):
    """One picture twice, as an RGB array: its ground truth (left) and the detections
    scoring at least `threshold` (right)."""
    import numpy as np

    truth = Image.fromarray(np.asarray(pixels, np.uint8))
    draw_boxes(truth, [(b[1], b[0], b[3], b[2]) for b in result.gt_boxes],
               [names.get(int(c), str(c)) for c in result.gt_classes], result.gt_classes)
    found = draw_detections(Image.fromarray(np.asarray(pixels, np.uint8)),
                            result.detections.above(threshold), names)
    return np.concatenate([np.asarray(truth), np.asarray(found)], axis=1)
