"""--strategy: which tf.distribute strategy trains the model.

default       one device (CPU or the first GPU)
mirrored      all local GPUs (or --cpu-replicas logical CPUs), synchronous (MirroredStrategy)
multi_worker  several processes or machines; each reads its role from TF_CONFIG
tpu           a Cloud TPU (TPU_NAME or the local TPU)

The role of a process (chief or not, how many workers) is read from TF_CONFIG
without TensorFlow, so that a run can decide what to write before building anything.
"""
from __future__ import annotations

import json
import os

from odhelper.errors import UsageError


def _tf_config() -> dict:
    try:
        return json.loads(os.environ.get("TF_CONFIG") or "{}")
    except ValueError as error:
        raise UsageError(f"TF_CONFIG is not valid JSON ({error})") from None


def worker_count(name: str) -> int:
    """Processes that train together: chief + workers of TF_CONFIG's cluster, else 1."""
    if name != "multi_worker":
        return 1
    cluster = _tf_config().get("cluster", {})
    return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))


def chief_task(name: str) -> bool:
    """Whether this process writes the run directory: always, except for the other
    workers of a multi-worker run (the chief, or worker 0 of a cluster without one)."""
    if name != "multi_worker":
        return True
    config = _tf_config()
    task = config.get("task", {})
    return _writes_the_run(task.get("type"), int(task.get("index", 0)),
                           has_chief=bool(config.get("cluster", {}).get("chief")))


def _writes_the_run(task_type: str | None, index: int, has_chief: bool) -> bool:
    """The chief, or worker 0 of a cluster without one (no task: a single process)."""
    if task_type in (None, "chief"):
        return True
    return task_type == "worker" and index == 0 and not has_chief


def split_cpu(replicas: int) -> None:
    """Make the first CPU N logical devices (--cpu-replicas), so that MirroredStrategy
    has N replicas on a CPU-only machine. Must run before TensorFlow's devices exist."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)])
    except RuntimeError:
        if len(tf.config.list_logical_devices("CPU")) != replicas:
            raise UsageError(f"--cpu-replicas {replicas}: TensorFlow's devices were set up "
                             "already in this process; start a new one") from None


def make_strategy(name: str, cpu_replicas: int = 0):
    import tensorflow as tf

    if cpu_replicas:
        split_cpu(cpu_replicas)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if cpu_replicas:
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
            return tf.distribute.MirroredStrategy(devices)
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
    if task_type in (None, "chief"):  # no cluster to ask
        return True
    return _writes_the_run(task_type, resolver.task_id,
                           has_chief="chief" in resolver.cluster_spec().as_dict())


def several_workers(strategy) -> bool:
    return getattr(strategy.extended, "_num_workers", 1) > 1


def copy_from_chief(strategy, variables) -> None:
    """Give every worker the chief's values of `variables` (after a restore that only
    the chief's run directory could serve): one all-reduce where only the first replica
    of the chief contributes."""
    import tensorflow as tf

    def replica_values():
        context = tf.distribute.get_replica_context()
        keep = tf.equal(context.replica_id_in_sync_group, 0)
        values = [tf.cast(v, tf.float32) for v in variables]  # one batch needs one dtype
        values = [tf.where(keep, value, tf.zeros_like(value)) for value in values]
        return context.all_reduce(tf.distribute.ReduceOp.SUM, values)

    @tf.function
    def copy():
        reduced = strategy.run(replica_values)
        for variable, value in zip(variables, reduced):
            local = strategy.experimental_local_results(value)[0]
            variable.assign(tf.cast(local, variable.dtype))

    copy()


def stop_together(strategy):
    """A function reason -> reason that every worker calls at the same point: when any
    worker stops (e.g. the chief's patience ran out), all of them do."""
    import tensorflow as tf

    @tf.function
    def any_stops(flag):
        per_replica = strategy.run(tf.identity, args=(flag,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def agree(reason: str | None) -> str | None:
        if float(any_stops(tf.constant(1.0 if reason else 0.0))) > 0 and not reason:
            return "the chief stopped training (its log says why)"
        return reason

    return agree
