#!/usr/bin/env python
"""Each suspect of a SavedModel / TFLite disagreement measured apart, on one trained run's
validation pictures: mAP@0.5 of the same weights when only the resize or only the
post-processing changes.

  SavedModel  fed the original picture (its graph resizes: the OD API's fixed-shape
              resizer, as in training), or a picture resized beforehand by each method
              (then the graph's own resize is the identity);
  TFLite fp32 graphs written here from the run's exported checkpoint, with the exporter's
              fast NMS (one class per box) and with its regular, per-class NMS, each fed
              pictures resized by each method.

The TFLite graph does not clip its boxes to the picture, the SavedModel does (before its
NMS); "clipped" rows clip the TFLite boxes after its NMS.

Resize methods: tf1-bilinear (odhelper's one resize, engine/resizing.py: no half-pixel
centres, as training), tf2-bilinear (tf.image.resize: half-pixel centres, what odhelper's
own resizes did before), area (antialiased).

Usage: scripts/bench_preprocessing.py RUN_DIR   (a finished run with export/)
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

MAP50 = "PascalBoxes_Precision/mAP@0.5IOU"


def resizers():
    import tensorflow as tf

    from odhelper.engine import resizing

    return {
        "tf1-bilinear": lambda p, size: resizing.to_input(p, size),
        "tf2-bilinear": lambda p, size: tf.image.resize(tf.cast(p, tf.float32), size),
        "area": lambda p, size: tf.image.resize(tf.cast(p, tf.float32), size, method="area"),
    }


def score(function, pictures, categories, resize=None, size=None, clip=False,
          dtype=None) -> float:
    import tensorflow as tf

    from odhelper.detections import from_outputs
    from odhelper.metrics import per_class

    results = []
    for image, truth in pictures:
        height, width = image.shape[:2]
        model_input = image
        if resize is not None:
            model_input = tf.cast(tf.clip_by_value(tf.round(resize(image, size)), 0, 255),
                                  tf.uint8).numpy()
        outputs = dict(function(input_tensor=tf.cast(model_input[tf.newaxis], dtype or tf.uint8)))
        if clip:
            outputs["detection_boxes"] = tf.clip_by_value(outputs["detection_boxes"], 0.0, 1.0)
        results.append(truth.with_detections(from_outputs(outputs, height, width)))
    return per_class.od_api_metrics(results, categories)[MAP50]


def tflite_function(configs, run_dir, regular: bool, folder: Path):
    """A TFLite fp32 model of the run's exported checkpoint with the chosen NMS."""
    from odhelper import files
    from odhelper.engine import tflite_export, tflite_runner
    from odhelper.od import api, tflite_exporter
    from odhelper.workflows.evaluate import exported_checkpoint

    graph = folder / ("regular" if regular else "fast")
    proto = api().config_util.create_pipeline_proto_from_configs(configs)
    checkpoint = Path(exported_checkpoint(run_dir)).parent
    tflite_exporter().export_tflite_model(proto, str(checkpoint), str(graph),
                                          max_detections=tflite_export.MAX_DETECTIONS,
                                          use_regular_nms=regular)
    model = graph.with_suffix(".tflite")
    files.write_bytes(model, tflite_export.convert(graph / "saved_model", "fp32"))
    info = tflite_export.input_info(configs)
    return tflite_runner.TfliteFunction(model, info)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    from odhelper.engine import artifact_check, predictor, records
    from odhelper.rundir import RunDir
    from odhelper.workflows.evaluate import categories_of, load_run_configs, run_label_map

    run_dir = RunDir(sys.argv[1])
    configs = load_run_configs(run_dir)
    label_map = run_label_map(run_dir, configs)
    categories = categories_of(label_map)
    pictures = artifact_check.validation_pictures(records.eval_record_files(configs, None),
                                                  label_map)
    saved = predictor.load_model(run_dir.root)
    size = saved.input_size
    dtype = saved.input_dtype
    rows = [("SavedModel", "its own graph", score(saved.function, pictures, categories,
                                                  dtype=dtype))]
    for name, resize in resizers().items():
        rows.append(("SavedModel", name, score(saved.function, pictures, categories, resize,
                                               size, dtype=dtype)))
    with tempfile.TemporaryDirectory(prefix="odhelper-preprocessing-") as folder:
        for regular in (False, True):
            function = tflite_function(configs, run_dir, regular, Path(folder))
            kind = f"TFLite {'per-class' if regular else 'fast'} NMS"
            for name, resize in resizers().items():
                rows.append((kind, name, score(function, pictures, categories, resize, size)))
            rows.append((kind + ", clipped", "tf1-bilinear", score(
                function, pictures, categories, resizers()["tf1-bilinear"], size, clip=True)))
    base = rows[0][2]
    print(f"{len(pictures)} validation pictures of {run_dir.root}, input {size}")
    print(f"{'model':<24} {'resize':<16} {'mAP@0.5':>8} {'vs SavedModel':>14}")
    for model, resize, value in rows:
        print(f"{model:<24} {resize:<16} {value:8.4f} {value - base:+14.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
