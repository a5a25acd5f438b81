"""The one record reader: evaluation TFRecords decoded with the OD API's
TfExampleDecoder, so the pictures and ground truth are exactly what training and
the OD API's own evaluation see. Evaluation (in the run and `odhelper evaluate`),
the artifact check, the error galleries and the report's sample detections all
read records here; which records a split has is decided here too."""
from __future__ import annotations

import glob
from pathlib import Path
from typing import Collection, Iterator

import numpy as np

from odhelper.errors import OdhelperError
from odhelper.metrics.matching import ImageResult


def eval_record_files(configs, pattern: str | None) -> list[str]:
    """--records GLOB, else the input paths of the pipeline's eval input reader."""
    patterns = [pattern] if pattern else [
        path for reader in configs["eval_input_configs"]
        for path in reader.tf_record_input_reader.input_path]
    found = sorted({f for p in patterns for f in glob.glob(str(p))})
    if not found:
        raise OdhelperError(f"no evaluation records match {', '.join(map(str, patterns))}")
    return found


def split_record_files(configs, split: str, pattern: str | None = None) -> list[str]:
    """The records of `split`: validate = the eval input (or --records); test = the
    test shards dataset.json lists beside the validation records."""
    from odhelper.datasetdir import DatasetDir

    if pattern or split == "validate":
        return eval_record_files(configs, pattern)
    dataset = DatasetDir(Path(eval_record_files(configs, None)[0]).parent)
    return [str(path) for path in dataset.summary(check_shards=False).shard_paths(split)]


def read(files: list[str], label_map: Path, wanted: Collection[int] | None = None
         ) -> Iterator[tuple[int, np.ndarray, ImageResult]]:
    """(position in the records, picture [H, W, 3] uint8, its ground truth in pixels)
    of every record, or of the positions `wanted`, in file order."""
    import tensorflow as tf

    from odhelper.od import api, without_autograph

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
    dataset = dataset.map(without_autograph(lambda index, raw: (index, decoder.decode(raw))),
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
