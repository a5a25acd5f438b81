"""Draw detections (boxes, class names, scores) on a picture with PIL."""
from __future__ import annotations

from typing import Sequence

from PIL import Image, ImageDraw, ImageFont, ImageOps

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


def side_by_side(pixels, result, names: dict[int, str], threshold: float = 0.5):
    """One picture twice, as an RGB array: its ground truth (left) and the detections
    scoring at least `threshold` (right). `result` holds yxyx pixel boxes."""
    import numpy as np

    def drawn(boxes, classes, labels):
        picture = Image.fromarray(np.asarray(pixels, np.uint8))
        xyxy = [(b[1], b[0], b[3], b[2]) for b in boxes]
        return np.asarray(draw_boxes(picture, xyxy, labels, classes))

    keep = result.det_scores >= threshold
    truth = drawn(result.gt_boxes, result.gt_classes,
                  [names.get(int(c), str(c)) for c in result.gt_classes])
    found = drawn(result.det_boxes[keep], result.det_classes[keep],
                  [f"{names.get(int(c), str(c))} {s:.2f}" for c, s in
                   zip(result.det_classes[keep], result.det_scores[keep])])
    return np.concatenate([truth, found], axis=1)
