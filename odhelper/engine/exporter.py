"""Export one checkpoint of a run with the OD API's exporter_lib_v2 detection modules into
RUN/export: saved_model/, checkpoint/ and pipeline.config (each swapped in whole once the
export succeeded), and the label map beside them. Nothing else in export/ is touched
here: workflows/export.py decides what stays (operating points, TFLite, ONNX).

The SavedModel holds two signatures of the same weights: `serving_default` (the chosen
input type: one uint8 picture per call, what clients of the OD API expect, or batches of
float32 pictures with --batched) and `serving_batched` (float_image_tensor), which
`odhelper predict` uses to send batches; the OD API's own exporter saves only one.
Both are traced without AutoGraph, like training and evaluation: the OD API's graph
code needs none, and converting it took most of an export's time.
"""
from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

from odhelper import files, log
from odhelper.constants import BATCHED_SIGNATURE
from odhelper.od import api, without_keras_traces
from odhelper.rundir import ExportDir, RunDir

INPUT_TYPES = ("image_tensor", "float_image_tensor")


def export_saved_model(run_dir: RunDir, configs: dict, checkpoint: Path,
                       input_type: str) -> float:
    """Export `checkpoint` with the `input_type` signature (image_tensor: one uint8
    picture per call; float_image_tensor: a batch of float32 pictures of one size);
    returns the SavedModel's size in MB."""
    proto = api().config_util.create_pipeline_proto_from_configs(configs)
    out = run_dir.exported
    out.root.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=".export.", suffix=".tmp", dir=out.root))
    try:
        with log.stage("Export model", "export", checkpoint=checkpoint.name,
                       input=input_type) as stage:
            made = ExportDir(temp)
            _export(proto, checkpoint, input_type, made)
            for source, target in ((made.saved_model, out.saved_model),
                                   (made.checkpoint_dir, out.checkpoint_dir),
                                   (made.pipeline_config, out.pipeline_config)):
                files.replace(source, target)
            if run_dir.label_map.is_file():  # export/ alone is enough to predict with names
                files.write_bytes(out.label_map, run_dir.label_map.read_bytes())
            stage.extra["saved_model MB"] = round(size(out.saved_model) / 1e6, 1)
            return stage.extra["saved_model MB"]
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _export(proto, checkpoint: Path, input_type: str, out: ExportDir) -> None:
    """What exporter_lib_v2.export_inference_graph writes, with both signatures."""
    import tensorflow as tf

    od = api()
    model = od.model_builder.build(proto.model, is_training=False)
    restore = tf.train.Checkpoint(model=model)
    status = restore.restore(str(checkpoint)).expect_partial()
    modules = od.exporter_lib_v2.DETECTION_MODULE_MAP
    default = _without_autograph(modules[input_type](model))
    batched = _without_autograph(modules["float_image_tensor"](model))
    signatures = {"serving_default": default.__call__.get_concrete_function(),
                  BATCHED_SIGNATURE: batched.__call__.get_concrete_function()}
    status.assert_existing_objects_matched()
    tf.train.CheckpointManager(restore, str(out.checkpoint_dir), max_to_keep=1).save(
        checkpoint_number=0)
    with without_keras_traces():
        tf.saved_model.save(default, str(out.saved_model), signatures=signatures)
    od.config_util.save_pipeline_config(proto, str(out.root))


def _without_autograph(module):
    """`module` (an exporter_lib_v2 detection module) whose __call__ is traced without
    AutoGraph, with the same input signature; saved in place of the original."""
    import tensorflow as tf

    call = module.__dict__.get("__call__")  # set per instance (image_tensor)
    if call is not None:
        python_function = call.python_function
    else:  # a decorated method: bound to the module here
        call = type(module).__call__
        python_function = functools.partial(call.python_function, module)
    module.__call__ = tf.function(python_function, input_signature=call.input_signature,
                                  autograph=False)
    return module


def size(path: Path) -> int:
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0
