"""Run a .tflite detector written by `odhelper export --tflite` like a SavedModel:
`function(input_tensor=[B, H, W, 3] pixels)` returns the SavedModel's outputs
(num_detections, detection_scores, detection_classes as label-map ids,
detection_boxes normalised). Pictures are resized to the model's input size as
training resized them (engine/resizing.py),
normalised as tflite.json says and quantised when the input is integer.
One interpreter per thread (an interpreter is not thread-safe)."""
from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path

import numpy as np

from odhelper.errors import OdhelperError
from odhelper.rundir import TFLITE_INFO


def read_info(model: Path) -> dict:
    """tflite.json beside the .tflite file."""
    path = Path(model).parent / TFLITE_INFO
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OdhelperError(f"{path}: not found ({exc.strerror}); it says how to feed "
                            f"{Path(model).name} (written by `odhelper export --tflite`)")
    except ValueError as exc:
        raise OdhelperError(f"{path}: not valid JSON ({exc})")


class TfliteFunction:
    def __init__(self, path: Path, info: dict):
        self.path, self.info = Path(path), info
        self._local = threading.local()
        self.input_size = tuple(info["input_size"])
        details = self._interpreter()[1]
        self.input_dtype = np.dtype(details["dtype"])

    def _interpreter(self):
        found = getattr(self._local, "interpreter", None)
        if found is None:
            import tensorflow as tf

            with warnings.catch_warnings():  # "tf.lite.Interpreter is deprecated": still in 2.21
                warnings.simplefilter("ignore")
                interpreter = tf.lite.Interpreter(model_path=str(self.path))
            interpreter.allocate_tensors()
            (given,) = interpreter.get_input_details()
            found = self._local.interpreter = (interpreter.get_signature_runner(), given)
        return found

    def _model_input(self, picture: np.ndarray, given: dict) -> np.ndarray:
        from odhelper.engine.tflite_export import normalise

        if picture.shape[:2] != self.input_size:
            from odhelper.engine import resizing
            picture = resizing.to_input(picture, self.input_size).numpy()
        values = normalise(picture, self.info)[np.newaxis]
        scale, zero = given["quantization"]
        if np.issubdtype(given["dtype"], np.integer) and scale:
            limits = np.iinfo(given["dtype"])
            values = np.clip(np.round(values / scale + zero), limits.min, limits.max)
        return values.astype(given["dtype"])

    def __call__(self, input_tensor) -> dict[str, np.ndarray]:
        runner, given = self._interpreter()
        names = self.info["outputs"]
        found: dict[str, list] = {key: [] for key in names}
        for picture in np.asarray(input_tensor):
            outputs = runner(input=self._model_input(picture, given))
            for key, name in names.items():
                found[key].append(outputs[name][0])
        result = {key: np.stack(values) for key, values in found.items()}
        result["detection_classes"] = result["detection_classes"] + self.info["label_id_offset"]
        return result


def load(path: Path) -> TfliteFunction:
    return TfliteFunction(path, read_info(path))
