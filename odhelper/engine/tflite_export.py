"""TFLite artifacts of an SSD through the OD API's TF2 path.

`export_tflite_graph_lib_tf2` writes a SavedModel whose input is the PREPROCESSED
picture ([1, H, W, 3] float32, the feature extractor's normalisation already
applied) and whose end is the TFLite detection post-processing op; the
TFLiteConverter turns it into fp32, fp16 (float16 weights) or int8 (full-integer
quantisation calibrated on a seeded sample of the run's TRAIN pictures).

What a client needs to feed and read such a file (input size, the affine
normalisation, which signature output is which) is written once to
export/tflite.json, beside the label map.
"""
from __future__ import annotations

import glob
import shutil
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from odhelper import files, log
from odhelper.engine import resizing
from odhelper.errors import OdhelperError
from odhelper.od import api, tflite_exporter, without_keras_traces
from odhelper.rundir import SAVED_MODEL, ExportDir

MAX_DETECTIONS = 100
# The signature outputs of the OD API's TFLite SSD graph (it returns them in reverse order).
OUTPUTS = {"num_detections": "output_0", "detection_scores": "output_1",
           "detection_classes": "output_2", "detection_boxes": "output_3"}
LABEL_ID_OFFSET = 1  # the post-processing op writes 0-based classes; label maps start at 1


def tflite_unsupported(model_config) -> str | None:
    """Why the OD API's TFLite exporter cannot take this model, or None."""
    if model_config.WhichOneof("model") != "ssd":
        return "only SSD models convert to TFLite"
    if model_config.ssd.image_resizer.WhichOneof("image_resizer_oneof") != \
            "fixed_shape_resizer":
        return "the TFLite exporter needs a fixed_shape_resizer (this model keeps the aspect)"
    return None


def input_info(configs: dict) -> dict:
    """Input size and normalisation (pixel * scale + offset, per channel) of the model,
    measured by running its own preprocess on black and white pictures."""
    import tensorflow as tf

    resizer = configs["model"].ssd.image_resizer.fixed_shape_resizer
    height, width = int(resizer.height), int(resizer.width)
    model = api().model_builder.build(configs["model"], is_training=False)
    probe = tf.stack([tf.zeros([height, width, 3]), tf.fill([height, width, 3], 255.0)])
    preprocessed, _ = model.preprocess(probe)
    low, high = preprocessed[0, 0, 0].numpy(), preprocessed[1, 0, 0].numpy()
    return {"input_size": [height, width], "scale": ((high - low) / 255.0).tolist(),
            "offset": low.tolist(), "outputs": OUTPUTS, "label_id_offset": LABEL_ID_OFFSET,
            "max_detections": MAX_DETECTIONS, "resize": resizing.RESIZE,
            "nms": "per class, as the SavedModel (TFLite regular NMS)"}


def normalise(pixels: np.ndarray, info: dict) -> np.ndarray:
    """uint8-range pixels [..., 3] -> the model's float input."""
    return (np.asarray(pixels, np.float32) * np.asarray(info["scale"], np.float32)
            + np.asarray(info["offset"], np.float32))


def train_record_files(configs: dict) -> list[str]:
    patterns = list(configs["train_input_config"].tf_record_input_reader.input_path)
    found = sorted({f for p in patterns for f in glob.glob(str(p))})
    if not found:
        raise OdhelperError(f"int8 calibration: no training records match {', '.join(patterns)}")
    return found


def calibration_pictures(configs: dict, info: dict, count: int,
                         seed: int) -> Callable[[], Iterator[list[np.ndarray]]]:
    """The converter's representative dataset: `count` TRAIN pictures (a seeded
    shuffle), resized and normalised as the model's input."""
    import tensorflow as tf

    record_files = train_record_files(configs)
    height, width = info["input_size"]

    def decode(serialized):
        encoded = tf.io.parse_single_example(
            serialized, {"image/encoded": tf.io.FixedLenFeature([], tf.string)})
        image = tf.io.decode_image(encoded["image/encoded"], channels=3,
                                   expand_animations=False)
        image.set_shape([None, None, 3])
        return resizing.to_input(image, [height, width])

    def pictures():
        dataset = tf.data.TFRecordDataset(record_files).shuffle(
            4096, seed=seed, reshuffle_each_iteration=False).take(count).map(decode)
        for picture in dataset:
            yield [normalise(picture.numpy(), info)[np.newaxis]]
    return pictures


def convert(graph: Path, kind: str, representative=None, int8_input: str = "uint8") -> bytes:
    """The TFLite flatbuffer of the exported TFLite graph, as `kind` (fp32|fp16|int8)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(graph))
    if kind == "fp32":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                               tf.lite.OpsSet.SELECT_TF_OPS]
    elif kind == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif kind == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        # integer kernels everywhere they exist; the detection post-processing stays float
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]
        if int8_input != "float32":
            converter.inference_input_type = getattr(tf, int8_input)
    else:
        raise ValueError(f"unknown TFLite kind {kind!r}")
    return converter.convert()


def write_graph(configs: dict, proto, checkpoint_dir: Path, out: ExportDir) -> None:
    """The TFLite graph of the checkpoint (out.tflite_graph, kept so that another kind
    converts later without exporting it again) and out.tflite_info."""
    graph = out.tflite_graph
    shutil.rmtree(graph, ignore_errors=True)
    with files.atomic_dir(graph) as temp, without_keras_traces():
        tflite_exporter().export_tflite_model(proto, str(checkpoint_dir), str(temp),
                                              max_detections=MAX_DETECTIONS,
                                              use_regular_nms=True)
    files.write_json(out.tflite_info, input_info(configs))


def write_kind(configs: dict, out: ExportDir, kind: str, calibration_images: int = 200,
               calibration_seed: int = 0, int8_input: str = "uint8") -> Path:
    """out.tflite(kind) converted from the kept TFLite graph."""
    import json

    info = json.loads(out.tflite_info.read_text(encoding="utf-8"))
    with log.stage(f"TFLite {kind}", "export", kind=kind) as stage:
        representative = calibration_pictures(configs, info, calibration_images,
                                              calibration_seed) if kind == "int8" else None
        files.write_bytes(out.tflite(kind), convert(out.tflite_graph / SAVED_MODEL, kind,
                                                    representative, int8_input))
        stage.extra["MB"] = round(out.tflite(kind).stat().st_size / 1e6, 2)
    return out.tflite(kind)
