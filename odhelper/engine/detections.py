"""The model side of `odhelper evaluate`: which records to score, and a restored
checkpoint's detections beside the ground truth of each (read by engine/records.py).
"""
from __future__ import annotations

import glob
from pathlib import Path

from odhelper.detections import from_outputs
from odhelper.engine import records
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
    import json

    from odhelper.data.build import DATASET_JSON

    if pattern or split == "validate":
        return eval_record_files(configs, pattern)
    dataset = Path(eval_record_files(configs, None)[0]).parent
    try:
        content = json.loads((dataset / DATASET_JSON).read_text(encoding="utf-8"))
        shards = content["splits"][split]["shards"]
    except (OSError, ValueError, KeyError, TypeError):
        shards = []
    if not shards:
        raise OdhelperError(f"{dataset / DATASET_JSON}: no {split} split (make one with "
                            "`odhelper tfrecord -sr 8,1,1`)")
    return [str(dataset / shard) for shard in shards]


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


def collect(configs, checkpoint: str, files: list[str], label_map: Path) -> list[ImageResult]:
    """Ground truth and detections (pixels, label-map ids) of every record."""
    import tensorflow as tf

    from odhelper import log

    detect = restore_model(configs, checkpoint)
    results = []
    for _, image, truth in log.progress(records.read(files, label_map), desc="evaluate",
                                        unit="img"):
        outputs = detect(tf.cast(image, tf.float32)[tf.newaxis])
        # postprocess counts classes from 0, the label map from 1
        results.append(truth.with_detections(
            from_outputs(outputs, truth.height, truth.width, label_offset=1)))
    if not results:
        raise OdhelperError(f"{', '.join(files)}: no records to evaluate")
    return results
