"""The model side of `odhelper evaluate`: a restored checkpoint's detections and
the ground truth of every evaluation record.

Records are read with the OD API's TfExampleDecoder, so ground truth is exactly
what training and the OD API's own evaluation see.
"""
from __future__ import annotations

import glob
from pathlib import Path
from typing import Iterator

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


def restore_model(configs, checkpoint: str):
    """A traced detect function of the model restored from `checkpoint`."""
    import tensorflow as tf

    from odhelper.engine.restore import restored

    found, _ = restored(configs, checkpoint)
    detect = tf.function(lambda image: _detect(found.model, image),
                         input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
    detect.get_concrete_function()  # builds the variables, then checks the restore
    found.status.assert_existing_objects_matched()
    return detect


def _detect(model, image):
    preprocessed, shapes = model.preprocess(image)
    return model.postprocess(model.predict(preprocessed, shapes), shapes)


def decoded_records(files: list[str], label_map: Path) -> Iterator[dict]:
    """Decoded tf.Examples (the OD API decoder's tensor dicts), in file order."""
    import tensorflow as tf

    from odhelper.od import api

    decoder = api().tf_example_decoder.TfExampleDecoder(label_map_proto_file=str(label_map))
    dataset = tf.data.TFRecordDataset(files).map(decoder.decode,
                                                 num_parallel_calls=tf.data.AUTOTUNE)
    return iter(dataset.prefetch(2))


def truths(files: list[str], label_map: Path) -> Iterator[tuple]:
    """(picture tensor [H, W, 3] uint8, its ImageResult with ground truth only) per record."""
    from odhelper.od import api

    inputs = api().standard_fields.InputDataFields
    for index, example in enumerate(decoded_records(files, label_map)):
        image = example[inputs.image]
        height, width = int(image.shape[0]), int(image.shape[1])
        scale = np.array([height, width, height, width], np.float32)
        name = example[inputs.filename].numpy().decode() or \
            example[inputs.source_id].numpy().decode() or f"record-{index}"
        difficult = example.get(inputs.groundtruth_difficult)
        yield image, ImageResult(
            name, width, height, example[inputs.groundtruth_boxes].numpy() * scale,
            example[inputs.groundtruth_classes].numpy(),
            gt_difficult=None if difficult is None else difficult.numpy())


def with_detections(truth: ImageResult, boxes, scores, classes) -> ImageResult:
    """`truth` plus detections: normalised (ymin, xmin, ymax, xmax), label-map ids."""
    scale = np.array([truth.height, truth.width, truth.height, truth.width], np.float32)
    return ImageResult(truth.image_id, truth.width, truth.height, truth.gt_boxes,
                       truth.gt_classes, np.asarray(boxes).reshape(-1, 4) * scale, scores,
                       np.asarray(classes).astype(int), truth.gt_difficult)


def collect(configs, checkpoint: str, files: list[str], label_map: Path) -> list[ImageResult]:
    """Ground truth and detections (pixels, 1-based classes) of every record."""
    import tensorflow as tf

    from odhelper import log
    from odhelper.od import api

    outputs = api().standard_fields.DetectionResultFields
    detect = restore_model(configs, checkpoint)
    results = []
    for image, truth in log.progress(truths(files, label_map), desc="evaluate", unit="img"):
        found = detect(tf.cast(image, tf.float32)[tf.newaxis])
        count = int(found[outputs.num_detections][0])
        results.append(with_detections(
            truth, found[outputs.detection_boxes][0, :count].numpy(),
            found[outputs.detection_scores][0, :count].numpy(),
            found[outputs.detection_classes][0, :count].numpy().astype(int) + 1))
    if not results:
        raise OdhelperError(f"{', '.join(files)}: no records to evaluate")
    return results
