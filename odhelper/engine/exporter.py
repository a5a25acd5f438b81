"""Export a run's best (or last) checkpoint through the OD API's exporter_lib_v2:
RUN/export/{saved_model/, checkpoint/, pipeline.config, label map} (+ model.tflite
for SSD)."""
from __future__ import annotations

import shutil
from pathlib import Path

from odhelper import files, log
from odhelper.od import api, tflite_exporter
from odhelper.rundir import LABEL_MAP, SAVED_MODEL, TFLITE_MODEL, RunDir


def export(run_dir: RunDir, tflite: bool = False, batched: bool = False) -> Path:
    """Export the run's "best" checkpoint (RunDir.checkpoint); returns RUN/export.
    Atomic: a failed export leaves the previous one (if any) in place. `batched`:
    the OD API's `float_image_tensor` signature, which takes a batch of float32
    pictures of one size (odhelper predict then sends batches); otherwise
    `image_tensor`, one uint8 picture per call."""
    from odhelper.pipeline import config

    run_dir = RunDir(run_dir.root if isinstance(run_dir, RunDir) else run_dir).require()
    configs = config.load(run_dir.pipeline_config)
    checkpoint = Path(run_dir.checkpoint("best"))
    proto = api().config_util.create_pipeline_proto_from_configs(configs)
    input_type = "float_image_tensor" if batched else "image_tensor"
    with log.stage("Export model", "export", checkpoint=checkpoint.name, input=input_type) \
            as stage, files.atomic_dir(run_dir.export) as tmp:
        # the exporter restores the newest checkpoint of the folder it is given
        api().exporter_lib_v2.export_inference_graph(input_type, proto,
                                                     str(checkpoint.parent), str(tmp))
        if run_dir.label_map.is_file():  # export/ alone is enough to predict with names
            shutil.copyfile(run_dir.label_map, tmp / LABEL_MAP)
        if tflite:
            _export_tflite(configs, proto, checkpoint.parent, tmp)
        stage.extra["saved_model MB"] = round(_size(tmp / SAVED_MODEL) / 1e6, 1)
    return run_dir.export


def tflite_unsupported(model_config) -> str | None:
    """Why the OD API's TFLite exporter cannot take this model, or None."""
    if model_config.WhichOneof("model") != "ssd":
        return "only SSD models convert to TFLite"
    if model_config.ssd.image_resizer.WhichOneof("image_resizer_oneof") != \
            "fixed_shape_resizer":
        return "the TFLite exporter needs a fixed_shape_resizer (this model keeps the aspect)"
    return None


def _export_tflite(configs: dict, proto, source: Path, out: Path) -> None:
    import tensorflow as tf

    reason = tflite_unsupported(configs["model"])
    if reason:
        log.warning("--tflite: %s; skipped (the SavedModel is exported)", reason)
        return
    graph_dir = out / "tflite_graph"
    tflite_exporter().export_tflite_model(proto, str(source), str(graph_dir),
                                          max_detections=100, use_regular_nms=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(graph_dir / SAVED_MODEL))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                           tf.lite.OpsSet.SELECT_TF_OPS]
    (out / TFLITE_MODEL).write_bytes(converter.convert())
    shutil.rmtree(graph_dir, ignore_errors=True)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
