"""The one record reader: evaluation TFRecords decoded with the OD API's
TfExampleDecoder, so the pictures and ground truth are exactly what training and
the OD API's own evaluation see. Evaluate, the artifact check, the error galleries
and the report's sample detections all read records here."""
from __future__ import annotations

from pathlib import Path
from typing import Collection, Iterator

import numpy as np

from odhelper.metrics.matching import ImageResult


def read(files: list[str], label_map: Path, wanted: Collection[int] | None = None
         ) -> Iterator[tuple[int, np.ndarray, ImageResult]]:
    """(position in the records, picture [H, W, 3] uint8, its ground truth in pixels)
    of every record, or of the positions `wanted`, in file order."""
    import tensorflow as tf

    from odhelper.od import api

    od = api()
    inputs = od.standard_fields.InputDataFields
    decoder = od.tf_example_decoder.TfExampleDecoder(label_map_proto_file=str(label_map))
    dataset = tf.data.TFRecordDataset(list(files))
    if wanted is not None:
        if not wanted:
            return
        positions = tf.constant(sorted(wanted), tf.int64)
        dataset = dataset.take(max(wanted) + 1).enumerate().filter(
            lambda index, _: tf.reduce_any(tf.equal(positions, index)))
    else:
        dataset = dataset.enumerate()
    dataset = dataset.map(lambda index, raw: (index, decoder.decode(raw)),
                          num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)
    for index, example in dataset:
        index = int(index)
        image = example[inputs.image].numpy()
        height, width = image.shape[:2]
        scale = np.array([height, width, height, width], np.float32)
        name = example[inputs.filename].numpy().decode() or \
            example[inputs.source_id].numpy().decode() or f"record-{index}"
        difficult = example.get(inputs.groundtruth_difficult)
        yield index, image, ImageResult(
            name, width, height, example[inputs.groundtruth_boxes].numpy() * scale,
            example[inputs.groundtruth_classes].numpy(),
            gt_difficult=None if difficult is None else difficult.numpy())


def pictures(files: list[str], label_map: Path, wanted: Collection[int]
             ) -> dict[int, np.ndarray]:
    """The pictures at the positions `wanted` (e.g. those an error gallery draws)."""
    return {index: image for index, image, _ in read(files, label_map, wanted)}
