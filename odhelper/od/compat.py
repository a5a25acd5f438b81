"""Every fix the 2022-era TF2 Object Detection API needs on today's stack.

`apply()` runs each fix once, before `object_detection` is imported, and each
fix is a no-op where the installed packages do not need it. Nothing else in
odhelper patches third-party code, and site-packages is never edited.
The facts behind each fix are in ../shared/STACK.md ("Incompatibilities").
"""
from __future__ import annotations

import os
import sys
import types
import warnings

# Fix 1, on import (odhelper/__init__.py imports this module first): TensorFlow reads
# these once, at its first import, and the OD API needs Keras 2 (tf-keras).
if "tensorflow" not in sys.modules:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

APPLIED: list[str] = []
_DONE = False


def _stub_estimator() -> bool:
    """tf.estimator is gone since TF 2.16; inputs.py/model_lib.py import it."""
    import tensorflow as tf

    name = "tensorflow.compat.v1.estimator"
    if name in sys.modules:
        return False
    try:
        from tensorflow.compat.v1 import estimator  # noqa: F401
        return False
    except ImportError:
        pass
    stub = types.ModuleType(name)
    stub.__doc__ = "odhelper stub: tf.estimator is not part of TensorFlow >= 2.16"

    class _Missing:  # used only as a type in TF1 code paths
        def __init__(self, *args, **kwargs):
            raise RuntimeError("tf.estimator is not available in TensorFlow >= 2.16")

    for attr in ("Estimator", "EstimatorSpec", "TrainSpec", "EvalSpec",
                 "RunConfig", "ModeKeys", "export"):
        setattr(stub, attr, _Missing)
    stub.tpu = types.SimpleNamespace(TPUEstimator=_Missing, TPUEstimatorSpec=_Missing,
                                     RunConfig=_Missing, TPUConfig=_Missing)
    sys.modules[name] = stub
    tf.compat.v1.estimator = stub
    return True


def _stub_tensorflow_io() -> bool:
    """deepmac_meta_arch imports tensorflow_io; only DeepMAC ever uses it."""
    if "tensorflow_io" in sys.modules:
        return False
    try:
        import tensorflow_io  # noqa: F401
        return False
    except ImportError:
        pass
    stub = types.ModuleType("tensorflow_io")
    stub.__doc__ = "odhelper stub: tensorflow_io is needed only by DeepMAC models"
    sys.modules["tensorflow_io"] = stub
    return True


def _stub_lvis() -> bool:
    """eval_util imports the LVIS evaluator at import time; lvis itself pulls
    in OpenCV. Without it, only the LVIS metrics (which we never use) fail."""
    if "lvis" in sys.modules:
        return False
    try:
        import lvis  # noqa: F401
        return False
    except ImportError:
        pass

    def module(name):
        stub = types.ModuleType(name)
        stub.__doc__ = "odhelper stub: install `lvis` for LVIS metrics"
        sys.modules[name] = stub
        return stub

    class _NeedsLvis:  # base class of the OD API's LVIS wrappers
        def __init__(self, *args, **kwargs):
            raise RuntimeError("LVIS metrics need the `lvis` package (pip install lvis)")

    root = module("lvis")
    classes = {"results": "LVISResults", "eval": "LVISEval", "lvis": "LVIS"}
    for sub, class_name in classes.items():
        child = module(f"lvis.{sub}")
        setattr(child, class_name, type(class_name, (_NeedsLvis,), {}))
        setattr(root, sub, child)
    return True


def _restore_control_flow_ops() -> bool:
    """tf-slim calls control_flow_ops.case/cond/while_loop/Assert (moved in TF 2.14)."""
    from tensorflow.python.ops import control_flow_ops as cfo

    moved = {
        "case": ("control_flow_case", "case"),
        "cond": ("cond", "cond"),
        "while_loop": ("while_loop", "while_loop"),
        "Assert": ("control_flow_assert", "Assert"),
    }
    changed = False
    for attr, (module_name, member) in moved.items():
        if hasattr(cfo, attr):
            continue
        module = __import__(f"tensorflow.python.ops.{module_name}", fromlist=[member])
        setattr(cfo, attr, getattr(module, member))
        changed = True
    return changed


def _pillow_getsize() -> bool:
    """Pillow >= 10 removed FreeTypeFont.getsize; visualization_utils uses it."""
    from PIL import ImageFont

    changed = False
    for cls in (ImageFont.FreeTypeFont, ImageFont.ImageFont):
        if hasattr(cls, "getsize"):
            continue

        def getsize(self, text, *args, **kwargs):
            left, top, right, bottom = self.getbbox(text, *args, **kwargs)
            return right - left, bottom - top

        cls.getsize = getsize
        changed = True
    return changed


def _numpy_aliases() -> bool:
    """numpy >= 1.24 removed np.float & co.; utils/metrics.py still uses them."""
    import numpy as np

    changed = False
    for alias, real in (("float", float), ("int", int), ("bool", bool),
                        ("object", object), ("str", str), ("complex", complex)):
        if alias not in np.__dict__:
            setattr(np, alias, real)
            changed = True
    return changed


def _coco_category_stats() -> bool:
    """Open-source pycocotools has no `category_stats`, which the OD API reads
    when include_metrics_per_category is on. Compute them after summarize()
    from COCOeval's precision/recall arrays, in the COCO summary order."""
    from object_detection.metrics import coco_tools

    wrapper = coco_tools.COCOEvalWrapper
    if getattr(wrapper, "_odhelper_category_stats", False):
        return False
    original_summarize = wrapper.summarize

    def summarize(self):
        original_summarize(self)
        if not hasattr(self, "category_stats"):
            self.category_stats = per_category_stats(self)

    wrapper.summarize = summarize
    wrapper._odhelper_category_stats = True
    return True


def _pascal_unpads_ground_truth() -> bool:
    """ObjectDetectionEvaluator.add_eval_dict (Pascal VOC, OID) ignores
    num_groundtruth_boxes: ground truth padded to max_number_of_boxes arrives as
    unmatched class-1 boxes and class 1's AP collapses. Cut each image's ground
    truth and detections to their real counts, as the COCO evaluator does."""
    from object_detection.core import standard_fields as fields
    from object_detection.utils import object_detection_evaluation as ode

    evaluator = ode.ObjectDetectionEvaluator
    if getattr(evaluator, "_odhelper_unpads", False):
        return False
    original = evaluator.add_eval_dict
    inputs, results = fields.InputDataFields, fields.DetectionResultFields
    counted = {inputs.num_groundtruth_boxes: (
                   inputs.groundtruth_boxes, inputs.groundtruth_classes,
                   inputs.groundtruth_difficult, inputs.groundtruth_instance_masks),
               results.num_detections: (
                   results.detection_boxes, results.detection_scores,
                   results.detection_classes, results.detection_masks)}

    def add_eval_dict(self, eval_dict):
        import numpy as np
        import tensorflow as tf

        if not tf.executing_eagerly() or not all(k in eval_dict for k in counted):
            return original(self, eval_dict)
        image_ids = np.asarray(eval_dict[inputs.key]).reshape(-1)
        for i, image_id in enumerate(image_ids):
            one = {}
            for count_key, keys in counted.items():
                n = int(np.asarray(eval_dict[count_key]).reshape(-1)[i])
                one.update({k: np.asarray(eval_dict[k])[i][:n]
                            for k in keys if k in eval_dict})
            self.add_single_ground_truth_image_info(image_id, one)
            self.add_single_detected_image_info(image_id, one)
        return None

    evaluator.add_eval_dict = add_eval_dict
    evaluator._odhelper_unpads = True
    return True


def per_category_stats(coco_eval):
    """[12, num_categories] array: AP, AP50, AP75, AP s/m/l, AR1/10/100, AR s/m/l."""
    import numpy as np

    params = coco_eval.params
    precision = coco_eval.eval["precision"]  # [T, R, K, A, M]
    recall = coco_eval.eval["recall"]  # [T, K, A, M]
    area = {label: i for i, label in enumerate(params.areaRngLbl)}
    dets = {n: i for i, n in enumerate(params.maxDets)}
    max_det = dets[max(params.maxDets)]

    def mean_valid(values, axis):
        values = np.where(values > -1, values, np.nan)
        with warnings.catch_warnings():  # all-NaN rows: class absent -> -1
            warnings.simplefilter("ignore", RuntimeWarning)
            out = np.nanmean(values, axis=axis)
        return np.where(np.isnan(out), -1.0, out)

    def ap(iou=None, area_label="all"):
        p = precision[:, :, :, area[area_label], max_det]
        if iou is not None:
            p = p[np.where(np.isclose(params.iouThrs, iou))[0]]
        return mean_valid(p.transpose(2, 0, 1).reshape(p.shape[2], -1), axis=1)

    def ar(max_dets, area_label="all"):
        r = recall[:, :, area[area_label], dets[max_dets]]
        return mean_valid(r.T, axis=1)

    rows = [ap(), ap(0.5), ap(0.75), ap(None, "small"), ap(None, "medium"),
            ap(None, "large")]
    rows += [ar(n) for n in params.maxDets]
    rows += [ar(max(params.maxDets), label) for label in ("small", "medium", "large")]
    return np.array(rows)


_FIXES_BEFORE_IMPORT = (
    ("estimator stub", _stub_estimator),
    ("tensorflow_io stub", _stub_tensorflow_io),
    ("lvis stub", _stub_lvis),
    ("tf-slim control_flow_ops", _restore_control_flow_ops),
    ("Pillow getsize", _pillow_getsize),
    ("numpy aliases", _numpy_aliases),
)
_FIXES_AFTER_IMPORT = (("COCO per-category stats", _coco_category_stats),
                       ("Pascal unpads ground truth", _pascal_unpads_ground_truth))
ALL_FIXES = tuple(name for name, _ in _FIXES_BEFORE_IMPORT + _FIXES_AFTER_IMPORT)


def apply() -> list[str]:
    """Apply every fix once; return the names of those that changed something."""
    global _DONE
    if _DONE:
        return APPLIED
    for name, fix in _FIXES_BEFORE_IMPORT:
        if fix():
            APPLIED.append(name)
    import object_detection  # noqa: F401  (only after the fixes above)
    for name, fix in _FIXES_AFTER_IMPORT:
        if fix():
            APPLIED.append(name)
    _DONE = True
    return APPLIED
