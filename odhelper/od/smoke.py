"""Prove the stack is real: build a model through the OD API's model_builder
and run its own training step on a synthetic batch (no files, no downloads)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odhelper.od import api

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


@dataclass
class SmokeResult:
    model: str
    losses: list[float]
    seconds_build: float
    seconds_steps: float


def load_configs(template: str | Path, num_classes: int, image_size: int | None = None,
                 batch_size: int | None = None):
    """Read a pipeline template and shrink it for a quick in-memory check."""
    od = api()
    path = Path(template)
    if not path.exists():
        path = PIPELINES / f"{template}.config"
    configs = od.config_util.get_configs_from_pipeline_file(str(path))
    model_config = configs["model"]
    arch = getattr(model_config, model_config.WhichOneof("model"))
    arch.num_classes = num_classes
    if image_size:
        resizer = od.config_util.get_image_resizer_config(model_config)
        kind = resizer.WhichOneof("image_resizer_oneof")
        if kind == "fixed_shape_resizer":
            resizer.fixed_shape_resizer.height = image_size
            resizer.fixed_shape_resizer.width = image_size
        elif kind == "keep_aspect_ratio_resizer":
            resizer.keep_aspect_ratio_resizer.min_dimension = image_size
            resizer.keep_aspect_ratio_resizer.max_dimension = image_size
    if batch_size:
        configs["train_config"].batch_size = batch_size
    if getattr(arch, "use_bfloat16", False):  # TPU-only setting (STACK.md fix 8)
        arch.use_bfloat16 = False
    return configs


def synthetic_batch(batch_size: int, image_size: int, num_classes: int, seed: int = 0):
    """One batch of bright squares on noise, with their boxes, as the train
    input would deliver it (features, labels)."""
    import numpy as np
    import tensorflow as tf

    fields = api().standard_fields.InputDataFields
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 60, (batch_size, image_size, image_size, 3)).astype("float32")
    boxes = np.zeros((batch_size, 1, 4), "float32")
    classes = np.zeros((batch_size, 1, num_classes), "float32")
    for i in range(batch_size):
        y0, x0 = rng.uniform(0.05, 0.45, 2)
        side = rng.uniform(0.3, 0.5)
        boxes[i, 0] = (y0, x0, y0 + side, x0 + side)
        top, left, bottom, right = (boxes[i, 0] * image_size).astype(int)
        images[i, top:bottom, left:right] = 230.0
        classes[i, 0, i % num_classes] = 1.0
    features = {
        fields.image: tf.constant(images / 127.5 - 1.0),
        fields.true_image_shape: tf.constant([[image_size, image_size, 3]] * batch_size,
                                             tf.int32),
    }
    labels = {
        fields.num_groundtruth_boxes: tf.ones([batch_size], tf.int32),
        fields.groundtruth_boxes: tf.constant(boxes),
        fields.groundtruth_classes: tf.constant(classes),
        fields.groundtruth_weights: tf.ones([batch_size, 1], tf.float32),
    }
    return features, labels


def run(template: str = "ssd_mobilenet_v2", steps: int = 2, image_size: int = 128,
        batch_size: int = 2, num_classes: int = 2) -> SmokeResult:
    """Build `template` and take `steps` real training steps; return the losses."""
    import time

    import tensorflow as tf

    od = api()
    started = time.perf_counter()
    configs = load_configs(template, num_classes, image_size, batch_size)
    model = od.model_builder.build(configs["model"], is_training=True)
    features, labels = synthetic_batch(batch_size, image_size, num_classes)
    optimizer = tf.keras.optimizers.Adam(1e-3)
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    losses = []
    for step in range(steps):
        loss = od.model_lib_v2.eager_train_step(
            model, features, labels, unpad_groundtruth_tensors=True, optimizer=optimizer,
            training_step=tf.constant(step, tf.int64))
        losses.append(float(loss["Loss/total_loss"]))
    return SmokeResult(str(template), losses, build_seconds, time.perf_counter() - started)
