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
