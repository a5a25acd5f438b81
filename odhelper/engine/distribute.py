"""--strategy: which tf.distribute strategy trains the model.

default       one device (CPU or the first GPU)
mirrored      all local GPUs, synchronous (MirroredStrategy)
multi_worker  several machines; each reads its role from TF_CONFIG
tpu           a Cloud TPU (TPU_NAME or the local TPU)
"""
from __future__ import annotations

import os

from odhelper.errors import UsageError


def make_strategy(name: str):
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise UsageError("--strategy multi_worker needs TF_CONFIG (cluster + task) in the "
                             "environment of every worker")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=os.environ.get("TPU_NAME", ""))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise UsageError(f"--strategy {name}: use default, mirrored, multi_worker or tpu")


def is_chief(strategy) -> bool:
    """Whether this process writes the run directory (checkpoints, TensorBoard, eval,
    export). Only multi-worker training has other workers: the chief, or worker 0
    of a cluster without a chief, is the one."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if task_type in (None, "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and resolver.task_id == 0 and not has_chief
