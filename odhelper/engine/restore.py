"""Restore a checkpoint into a detection model for inference: the one place
that does it (evaluate, the evaluation sidecar and the report all use it)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from odhelper.errors import OdhelperError
from odhelper.od import api


@dataclass
class InferenceModel:
    model: Any  # the OD API DetectionModel, built with is_training=False
    checkpoint: Any  # tf.train.Checkpoint(model, step): restore() again for newer ckpts
    step: Any  # tf.Variable: the training step of the restored checkpoint
    status: Any = None  # of the last restore: variables built later are checked with it

    def restore(self, prefix: str) -> int:
        """Load checkpoint `prefix` (ckpt-N) into the model; its training step."""
        import tensorflow as tf

        if not tf.io.gfile.exists(f"{prefix}.index"):
            raise OdhelperError(f"{prefix}: no such checkpoint")
        self.status = self.checkpoint.restore(prefix).expect_partial()
        return int(self.step.numpy())


def inference_model(configs: dict) -> InferenceModel:
    """The configs' model in inference mode, ready for `restore`."""
    import tensorflow as tf

    model = api().model_builder.build(configs["model"], is_training=False)
    step = tf.Variable(0, dtype=tf.int64)
    return InferenceModel(model, tf.train.Checkpoint(model=model, step=step), step)


def restored(configs: dict, prefix: str) -> tuple[InferenceModel, int]:
    """Build the model and restore checkpoint `prefix`; (model, training step)."""
    found = inference_model(configs)
    return found, found.restore(prefix)


def checkpoint_step(prefix: str) -> int:
    """The training step saved in checkpoint `prefix`, else N of ckpt-N."""
    import re

    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    for key in ("step/.ATTRIBUTES/VARIABLE_VALUE", "global_step/.ATTRIBUTES/VARIABLE_VALUE"):
        if reader.has_tensor(key):
            return int(reader.get_tensor(key))
    match = re.search(r"(\d+)$", prefix)
    return int(match.group(1)) if match else 0


def checkpoint_digest(prefix: str) -> str:
    """SHA-256 of every variable saved in checkpoint `prefix` (names and values): two
    workers of one run that agree have the same digest."""
    import hashlib

    import numpy as np
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    digest = hashlib.sha256()
    for key in sorted(reader.get_variable_to_shape_map()):
        if key.startswith("save_counter") or key == "_CHECKPOINTABLE_OBJECT_GRAPH":
            continue
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(reader.get_tensor(key)).tobytes())
    return digest.hexdigest()
