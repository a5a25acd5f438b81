"""The model side of `odhelper evaluate`: restore a checkpoint of a run and
collect its detections and the ground truth of every evaluation record.

The model is built by the OD API's model_builder from RUN/pipeline.config and
restored with tf.train.Checkpoint; records are read with the OD API's
TfExampleDecoder, so ground truth is exactly what training and the OD API's
own evaluation see.
"""
from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import Iterator

import numpy as np

from odhelper.errors import OdhelperError
from odhelper.metrics.matching import ImageResult

CHECKPOINTS, BEST = "checkpoints", "best"


def _latest(directory: Path) -> str | None:
    import tensorflow as tf

    found = tf.train.latest_checkpoint(str(directory)) if directory.is_dir() else None
    if found is None and directory.is_dir():  # no `checkpoint` index file: newest ckpt-N
        numbered = sorted(directory.glob("ckpt-*.index"),
                          key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
        found = str(numbered[-1].with_suffix("")) if numbered else None
    return found


def resolve_checkpoint(run_dir: Path, which: str = "best") -> str:
    """best | last | ckpt-N | a checkpoint path prefix -> the checkpoint prefix."""
    from odhelper import log

    if which == "best":
        best = _latest(run_dir / BEST)
        if best:
            return best
        log.warning("%s: no best checkpoint yet; evaluating the last one", run_dir / BEST)
        which = "last"
    if which == "last":
        last = _latest(run_dir / CHECKPOINTS)
        if last is None:
            raise OdhelperError(f"{run_dir / CHECKPOINTS}: no checkpoint (ckpt-N.index) found")
        return last
    for candidate in (run_dir / CHECKPOINTS / which, run_dir / BEST / which, Path(which)):
        if Path(f"{candidate}.index").is_file():
            return str(candidate)
    raise OdhelperError(f"{run_dir}: no checkpoint {which!r} (use best, last, ckpt-N "
                        f"from {run_dir / CHECKPOINTS} or a checkpoint path)")


def checkpoint_step(checkpoint: str) -> int:
    """The training step saved in the checkpoint (model_lib_v2's `step`), else N of ckpt-N."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(checkpoint)
    for key in ("step/.ATTRIBUTES/VARIABLE_VALUE", "global_step/.ATTRIBUTES/VARIABLE_VALUE"):
        if reader.has_tensor(key):
            return int(reader.get_tensor(key))
    match = re.search(r"(\d+)$", checkpoint)
    return int(match.group(1)) if match else 0


def eval_record_files(configs, pattern: str | None) -> list[str]:
    """--records GLOB, else the input paths of the pipeline's eval input reader."""
    patterns = [pattern] if pattern else [
        path for reader in configs["eval_input_configs"]
        for path in reader.tf_record_input_reader.input_path]
    found = sorted({f for p in patterns for f in glob.glob(str(p))})
    if not found:
        raise OdhelperError(f"no evaluation records match {', '.join(map(str, patterns))}")
    return found


def restore_model(configs, checkpoint: str):
    """Build the detection model (inference mode) and restore `checkpoint` into it."""
    import tensorflow as tf

    from odhelper.od import api

    model = api().model_builder.build(configs["model"], is_training=False)
    status = tf.train.Checkpoint(model=model).restore(checkpoint).expect_partial()
    detect = tf.function(lambda image: _detect(model, image),
                         input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
    detect.get_concrete_function()  # builds the variables, then checks the restore
    status.assert_existing_objects_matched()
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


def collect(configs, checkpoint: str, files: list[str], label_map: Path) -> list[ImageResult]:
    """Ground truth and detections (pixels, 1-based classes) of every record."""
    import tensorflow as tf

    from odhelper import log
    from odhelper.od import api

    fields = api().standard_fields
    inputs, outputs = fields.InputDataFields, fields.DetectionResultFields
    detect = restore_model(configs, checkpoint)
    results = []
    for index, example in enumerate(log.progress(decoded_records(files, label_map),
                                                 desc="evaluate", unit="img")):
        image = example[inputs.image]
        height, width = int(image.shape[0]), int(image.shape[1])
        found = detect(tf.cast(image, tf.float32)[tf.newaxis])
        count = int(found[outputs.num_detections][0])
        scale = np.array([height, width, height, width], np.float32)
        name = example[inputs.filename].numpy().decode() or \
            example[inputs.source_id].numpy().decode() or f"record-{index}"
        difficult = example.get(inputs.groundtruth_difficult)
        results.append(ImageResult(
            name, width, height, example[inputs.groundtruth_boxes].numpy() * scale,
            example[inputs.groundtruth_classes].numpy(),
            found[outputs.detection_boxes][0, :count].numpy() * scale,
            found[outputs.detection_scores][0, :count].numpy(),
            found[outputs.detection_classes][0, :count].numpy().astype(int) + 1,
            None if difficult is None else difficult.numpy()))
    if not results:
        raise OdhelperError(f"{', '.join(files)}: no records to evaluate")
    return results
