"""Run an exported detector (SavedModel, .tflite or .onnx) over a folder of pictures, fast.

Plain TensorFlow only (no `object_detection` import): class names come from the
label map next to the export, parsed as text. TFLite and ONNX files run behind
the SavedModel's call (engine/tflite_runner.py, engine/onnx_runner.py). Pictures
flow through `tf.data`: a Python pre-check names bad files (the tfrecord stage's
reasons), decoding and resizing to the model's fixed input size run in parallel
threads, prefetched.
Large JPEGs are decoded at a reduced DCT scale that still covers the input size.
An `image_tensor` export takes one uint8 picture per call ([1, H, W, 3]); a
`float_image_tensor` export takes a batch of same-size pictures, which the
resizing makes possible. Either way several serving calls run at once (one
call leaves cores idle: small ops, NMS), results are yielded in input order.
"""
from __future__ import annotations

import collections
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from odhelper.constants import BATCHED_SIGNATURE, IMAGE_SUFFIXES
from odhelper.data import images as image_checks
from odhelper.data.problems import Problem, problem
from odhelper.detections import Detections, Prediction, from_outputs
from odhelper.engine import resizing
from odhelper.errors import OdhelperError
from odhelper.rundir import LABEL_MAP, PIPELINE_CONFIG, find_saved_model
from odhelper.thresholds import ScoreRule

_FIXED_SIZE = re.compile(r"fixed_shape_resizer\s*\{\s*height:\s*(\d+)\s*width:\s*(\d+)")
_LABEL_MAP_PATH = re.compile(r"label_map_path:\s*\"([^\"]+)\"")


ARTIFACT_SUFFIXES = (".tflite", ".onnx")


@dataclass
class ExportedModel:
    """An exported detector of any kind (SavedModel folder, .tflite, .onnx) behind
    one call: `function(input_tensor=pixels)` -> the SavedModel's serving outputs."""
    path: Path  # the saved_model folder or the artifact file
    class_names: dict[int, str]
    input_size: tuple[int, int] | None  # (height, width) of a fixed-shape resizer
    function: Callable = field(repr=False, default=None)
    input_dtype: object = None  # tf.uint8 (image_tensor, TFLite, ONNX) or tf.float32
    takes_batches: bool = False  # float_image_tensor exports take a batch
    kind: str = "SavedModel"

    @property
    def folder(self) -> Path:
        """The export folder: the model's label map and thresholds.json sit here."""
        return self.path.parent


def _pipeline_text(folder: Path) -> str:
    config = folder / PIPELINE_CONFIG
    return config.read_text(encoding="utf-8") if config.is_file() else ""


def _input_size(folder: Path) -> tuple[int, int] | None:
    """(height, width) of the fixed-shape resizer in the export's pipeline.config."""
    match = _FIXED_SIZE.search(_pipeline_text(folder))
    return (int(match.group(1)), int(match.group(2))) if match else None


def find_label_map(model: Path) -> Path | None:
    """The label map next to the export (the artifact's folder), in the run dir, or
    the config's path."""
    export = model.parent
    for candidate in (export / LABEL_MAP, export.parent / LABEL_MAP):
        if candidate.is_file():
            return candidate
    match = _LABEL_MAP_PATH.search(_pipeline_text(export))
    if match and Path(match.group(1)).is_file():
        return Path(match.group(1))
    return None


def _class_names(model: Path) -> dict[int, str]:
    from odhelper import log
    from odhelper.data import labelmap

    label_map = find_label_map(model)
    if label_map is None:
        log.warning("%s: no %s next to it; classes are shown as numbers", model, LABEL_MAP)
        return {}
    return {number: name for name, number in labelmap.read(label_map).items()}


def load_model(model: Path) -> ExportedModel:
    """Load a SavedModel (a run dir, an export dir, a saved_model dir), a .tflite or
    a .onnx file, with its class names."""
    model = Path(model)
    if model.suffix.lower() in ARTIFACT_SUFFIXES:
        return _load_artifact(model)
    saved_model = find_saved_model(model)  # before TensorFlow loads
    import tensorflow as tf

    names = _class_names(saved_model)
    size = _input_size(saved_model.parent)
    loaded = tf.saved_model.load(str(saved_model))
    # batches when every picture is resized to one input size (engine/resizing.py) and the
    # export has the batched signature; one picture per call otherwise
    batched = size is not None and BATCHED_SIGNATURE in loaded.signatures
    function = loaded.signatures[BATCHED_SIGNATURE if batched else "serving_default"]
    function._odhelper_keepalive = loaded  # the signature needs its object alive
    spec = function.structured_input_signature[1]["input_tensor"]
    batches = spec.shape.rank == 4 and spec.shape[0] is None and spec.dtype.is_floating
    found = ExportedModel(saved_model, names, size, function, spec.dtype, batches)
    height, width = size or (64, 64)  # the first call optimizes the graph: do it now
    function(input_tensor=tf.zeros([1, height, width, 3], found.input_dtype))
    return found


def _load_artifact(path: Path) -> ExportedModel:
    import tensorflow as tf

    if not path.is_file():
        raise OdhelperError(f"{path}: no such model file")
    if path.suffix.lower() == ".tflite":
        from odhelper.engine import tflite_runner
        function = tflite_runner.load(path)
        # the runner resizes and quantises: feed it uint8 pictures of the input size
        return ExportedModel(path, _class_names(path), function.input_size, function,
                             tf.uint8, False, "TFLite")
    from odhelper.engine import onnx_runner
    function = onnx_runner.load(path)
    return ExportedModel(path, _class_names(path), _input_size(path.parent), function,
                         tf.as_dtype(function.input_dtype), function.takes_batches, "ONNX")


def list_images(folder: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[Path]:
    """Pictures (or other `suffixes`) under `folder` (recursive, case-insensitive
    suffixes), sorted; a file given alone is taken as it is."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise OdhelperError(f"{folder}: no such folder of pictures")
    return sorted(p for p in folder.rglob("*")
                  if p.suffix.lower() in suffixes and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def checked_bytes(path: Path, name: str) -> tuple[bytes | None, Problem | None]:
    """Bytes TensorFlow decodes to RGB as a viewer shows them, or the named problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, problem(name, "unreadable_image", str(exc), "picture skipped")
    try:
        probe = image_checks.probe(data)
        rotate, _ = image_checks.decide_rotation(probe, None)
        data, _ = image_checks.stored_bytes(data, probe.format, probe.mode, rotate)
    except image_checks.ImageProblem as exc:
        return None, problem(name, exc.reason, str(exc), "picture skipped")
    except OSError as exc:
        return None, problem(name, "corrupt_image", str(exc), "picture skipped")
    return data, None


def _decode_fn(input_size: tuple[int, int] | None, as_float: bool):
    """tf.data map: (name, bytes) -> (name, model input, original height, width). With a
    fixed input size the picture is decoded whole and resized as training resized it
    (engine/resizing.py), kept in float for a float signature (the pixels the model's own
    resize makes), rounded for a uint8 one."""
    import tensorflow as tf

    def decode(name, data):
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        if input_size is None:
            return name, image, height, width
        resized = resizing.to_input(image, input_size)
        if not as_float:
            resized = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
        return name, resized, height, width

    return decode


def _encoded_stream(paths: list[Path], root: Path, problems: list[Problem]):
    for path in paths:
        name = path.relative_to(root).as_posix() if path != root else path.name
        data, found = checked_bytes(path, name)
        if found:
            problems.append(found)
        else:
            yield name, data


def default_workers() -> int:
    """Concurrent model calls: one serving call leaves cores idle (small ops, NMS);
    scripts/bench_predict.py measures the choice."""
    return 2 * (os.cpu_count() or 1)


def batch_capable(model: ExportedModel) -> bool:
    """Whether the model takes a batch (float_image_tensor exports do)."""
    return model.takes_batches


def detect(model: ExportedModel, paths: list[Path], root: Path, problems: list[Problem],
           rule: ScoreRule | None = None, workers: int = 0, batch_size: int = 8
           ) -> Iterator[Prediction]:
    """Yield one Prediction per readable picture, in order, with the detections
    `rule` keeps (None: every one); bad pictures go to `problems`.

    `workers` serving calls run at once (0 = 2 per core). Batches of `batch_size`
    pictures are sent only when the signature takes them and every picture is
    resized to one fixed input size.
    """
    import tensorflow as tf

    names = [p.relative_to(root).as_posix() if p != root else p.name for p in paths]
    stream = tf.data.Dataset.from_generator(
        lambda: _encoded_stream(paths, root, problems),
        output_signature=(tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string)))
    decode = _decode_fn(model.input_size, model.input_dtype.is_floating)
    dataset = stream.map(decode, num_parallel_calls=tf.data.AUTOTUNE,
                         deterministic=True).ignore_errors()
    batched = batch_capable(model) and model.input_size is not None
    dataset = dataset.batch(batch_size if batched else 1).prefetch(tf.data.AUTOTUNE)
    dtype = model.input_dtype

    def run(batch):
        batch_names, images, heights, widths = batch
        outputs = model.function(input_tensor=tf.cast(images, dtype))
        found = []
        for index, (name, height, width) in enumerate(zip(
                batch_names.numpy(), heights.numpy(), widths.numpy())):
            detections = from_outputs(outputs, int(height), int(width), index)
            if rule is not None:
                detections = rule.apply(detections, model.class_names)
            found.append(Prediction(name.decode(), int(width), int(height), detections))
        return found

    seen, workers = set(), workers or default_workers()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        window: collections.deque = collections.deque()
        for batch in dataset:
            window.append(pool.submit(run, batch))
            while len(window) > 2 * workers or (window and window[0].done()):
                for prediction in window.popleft().result():
                    seen.add(prediction.name)
                    yield prediction
        for job in window:
            for prediction in job.result():
                seen.add(prediction.name)
                yield prediction
    known = seen | {p.file for p in problems}
    problems.extend(problem(n, "corrupt_image", "TensorFlow could not decode it",
                            "picture skipped") for n in names if n not in known)


def detect_picture(model: ExportedModel, pixels: np.ndarray, resize: bool = False
                   ) -> Detections:
    """Every detection of `model` on one picture ([H, W, 3] uint8), in its pixels.
    `resize`: first to the model's fixed input size, as `detect` feeds pictures;
    otherwise the model resizes as its own graph does."""
    import tensorflow as tf

    height, width = pixels.shape[:2]
    model_input = tf.constant(pixels)
    if resize and model.input_size is not None:
        resized = resizing.to_input(model_input, model.input_size)
        model_input = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
    outputs = model.function(input_tensor=tf.cast(model_input[tf.newaxis], model.input_dtype))
    return from_outputs(outputs, height, width)
