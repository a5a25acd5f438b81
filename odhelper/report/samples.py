"""Sample detections for the report: the exported model on validation pictures
taken from the run's evaluation records (ground truth in white, detections in colour)."""
from __future__ import annotations

import io

from odhelper import log
from odhelper.rundir import RunDir

GROUND_TRUTH = (255, 255, 255)


def validation_pictures(records: list[str], limit: int) -> list[tuple[str, bytes, list]]:
    """(file name, encoded bytes, ground-truth boxes in pixels + class text) of the first
    `limit` examples, read with plain TensorFlow."""
    import tensorflow as tf

    spec = {
        "image/encoded": tf.io.FixedLenFeature([], tf.string),
        "image/filename": tf.io.FixedLenFeature([], tf.string, default_value=""),
        "image/width": tf.io.FixedLenFeature([], tf.int64, default_value=0),
        "image/height": tf.io.FixedLenFeature([], tf.int64, default_value=0),
        **{f"image/object/bbox/{k}": tf.io.VarLenFeature(tf.float32)
           for k in ("xmin", "ymin", "xmax", "ymax")},
        "image/object/class/text": tf.io.VarLenFeature(tf.string),
    }
    found = []
    for index, raw in enumerate(tf.data.TFRecordDataset(records).take(limit)):
        example = tf.io.parse_single_example(raw, spec)
        width, height = int(example["image/width"]), int(example["image/height"])
        coords = {k: tf.sparse.to_dense(example[f"image/object/bbox/{k}"]).numpy()
                  for k in ("xmin", "ymin", "xmax", "ymax")}
        names = [n.decode() for n in
                 tf.sparse.to_dense(example["image/object/class/text"], b"").numpy()]
        boxes = [((x0 * width, y0 * height, x1 * width, y1 * height), name)
                 for x0, y0, x1, y1, name in zip(coords["xmin"], coords["ymin"],
                                                 coords["xmax"], coords["ymax"], names)]
        name = example["image/filename"].numpy().decode() or f"record-{index}"
        found.append((name, example["image/encoded"].numpy(), boxes))
    return found


def sample_grid(run_dir: RunDir, records: list[str], threshold: float = 0.5,
                limit: int = 8) -> tuple[str, int] | None:
    """(base64 PNG grid, pictures drawn), or None without an export or records."""
    import tensorflow as tf
    from PIL import Image, ImageDraw

    from odhelper.engine import predictor
    from odhelper.errors import OdhelperError
    from odhelper.report import draw, plots

    try:
        model = predictor.load_model(run_dir.root)
    except OdhelperError as exc:
        log.warning("Report: no sample detections (%s)", exc)
        return None
    pictures, titles = [], []
    for name, data, truth in validation_pictures(records, limit):
        image = Image.open(io.BytesIO(data)).convert("RGB")
        pixels = tf.constant(image, model.input_dtype)[tf.newaxis]
        found = predictor.to_prediction(model.function(input_tensor=pixels), name,
                                        image.height, image.width, threshold)
        outline = ImageDraw.Draw(image)
        for box, _ in truth:
            outline.rectangle(box, outline=GROUND_TRUTH, width=1)
        labels = [f"{model.name_of(c)} {s:.2f}" for s, c in zip(found.scores, found.classes)]
        draw.draw_boxes(image, found.boxes, labels, found.classes)
        pictures.append(image)
        titles.append(f"{name}: {len(found.scores)} found, {len(truth)} true")
    if not pictures:
        return None
    return plots.image_grid(pictures, titles), len(pictures)
