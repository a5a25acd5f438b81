"""The one door to the TF2 Object Detection API.

Nothing in odhelper imports `object_detection` except through `api()`, which
applies every compat fix first (see compat.py) and returns the OD API modules
the project uses.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import types

_MODULES = {
    "config_util": "object_detection.utils.config_util",
    "label_map_util": "object_detection.utils.label_map_util",
    "visualization_utils": "object_detection.utils.visualization_utils",
    "model_builder": "object_detection.builders.model_builder",
    "optimizer_builder": "object_detection.builders.optimizer_builder",
    "inputs": "object_detection.inputs",
    "model_lib": "object_detection.model_lib",
    "model_lib_v2": "object_detection.model_lib_v2",
    "eval_util": "object_detection.eval_util",
    "exporter_lib_v2": "object_detection.exporter_lib_v2",
    "tf_example_decoder": "object_detection.data_decoders.tf_example_decoder",
    "standard_fields": "object_detection.core.standard_fields",
    "coco_evaluation": "object_detection.metrics.coco_evaluation",
    "coco_tools": "object_detection.metrics.coco_tools",
    "object_detection_evaluation": "object_detection.utils.object_detection_evaluation",
    "pipeline_pb2": "object_detection.protos.pipeline_pb2",
    "string_int_label_map_pb2": "object_detection.protos.string_int_label_map_pb2",
}


@functools.lru_cache(maxsize=None)
def api() -> types.SimpleNamespace:
    """Return the OD API modules, after applying the compat fixes once."""
    from odhelper.od import compat

    compat.apply()
    return types.SimpleNamespace(
        **{name: importlib.import_module(path) for name, path in _MODULES.items()})


def module(name: str) -> types.ModuleType:
    """One OD API module, e.g. `module("utils.dataset_util")`, after the compat fixes,
    without importing the rest of the API as `api()` does."""
    from odhelper.od import compat

    compat.apply()
    return importlib.import_module(f"object_detection.{name}")


def tflite_exporter():
    """The SSD TFLite export module (imported only when asked for)."""
    return module("export_tflite_graph_lib_tf2")


def label_map_proto():
    """A new, empty StringIntLabelMap (the proto `label_map_util.load_labelmap` fills).
    Its module needs only protobuf, so tfrecord can check a label map the way
    training will parse it without importing TensorFlow."""
    return importlib.import_module("object_detection.protos.string_int_label_map_pb2") \
        .StringIntLabelMap()


def without_keras_traces():
    """A context in which tf.saved_model.save does not trace each Keras layer's call
    for reloading the model as Keras: odhelper's SavedModels are used through their
    signatures, and those traces are most of an export's time."""
    try:
        from tf_keras.src.saving.legacy.saved_model.utils import keras_option_scope
    except ImportError:  # another Keras: its default
        return contextlib.nullcontext()
    return keras_option_scope(save_traces=False)


def without_autograph(function):
    """`function` run with AutoGraph off for everything it traces (tf.data maps and
    functions called from a tf.function). The OD API's graph code was written for TF1,
    without AutoGraph; converting it is most of the seconds before the first step."""
    import tensorflow as tf

    return tf.autograph.experimental.do_not_convert(function)
