"""What `odhelper run` does differently when it scales out (several workers,
replicas or a GPU): the dataset every worker can read, the training-shard check,
--precision, --steps-per-loop, and the evaluation the chief runs alone."""
from __future__ import annotations

import contextlib
import glob
import shutil
import tempfile
from pathlib import Path

from odhelper import log
from odhelper.errors import OdhelperError, UsageError
from odhelper.options.data import TfrecordOptions
from odhelper.options.training import RunOptions

GPU_STEPS_PER_LOOP = 100
# checked: ssd_mobilenet_v2_cpu trains under mixed_float16 (float32 predictions, on a CPU);
# Faster R-CNN is not supported
MIXED_PRECISION_ARCHITECTURES = ("ssd",)


def tfrecord_options(options: RunOptions, workers: int) -> TfrecordOptions:
    """`run -i`'s dataset options (every tfrecord input option passed on): at least one
    training shard per worker."""
    shards = options.shards or (workers if workers > 1 else 0)
    return TfrecordOptions(**options.input_fields(), output=options.dataset, seed=options.seed,
                           split_ratio=options.split_ratio, copy_label_map=False,
                           shards=shards)


def worker_dataset(tfrecord: TfrecordOptions) -> tuple[Path, Path | None]:
    """(dataset, scratch) for a non-chief worker with `-i`: the chief's dataset when it is
    current (a shared run directory), else the same dataset (same seed, same split) made
    in a scratch folder of this worker, removed at exit. A worker never writes into the
    run directory."""
    from odhelper.data.build import build_dataset, dataset_is_current

    if dataset_is_current(tfrecord):
        return tfrecord.output, None
    scratch = Path(tempfile.mkdtemp(prefix="odhelper-worker-data-"))
    tfrecord.output = scratch / "dataset"
    log.info("Worker: making the dataset in %s (removed at exit)", tfrecord.output)
    build_dataset(tfrecord)
    return tfrecord.output, scratch


def remove_scratch(*folders: str | Path | None) -> None:
    for folder in folders:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def log_worker_checkpoint(prefix: str | None) -> None:
    from odhelper.engine.restore import checkpoint_digest

    if prefix:
        log.info("Worker's last checkpoint %s: variables digest %s", Path(prefix).name,
                 checkpoint_digest(prefix))


def check_shards(configs: dict, workers: int) -> None:
    """Every worker reads its own training shards: refuse fewer shards than workers."""
    if workers < 2:
        return
    patterns = list(configs["train_input_config"].tf_record_input_reader.input_path)
    found = sum(len(_matching(pattern)) for pattern in patterns)
    if found < workers:
        raise OdhelperError(
            f"{', '.join(patterns)}: {found} training shard(s) for {workers} workers; every "
            f"worker needs at least one: make the dataset again with `odhelper tfrecord "
            f"--shards {workers}` (or `odhelper run -i ... --shards {workers}`)")


def _matching(pattern: str) -> list[str]:
    if "://" in pattern:  # gs://, s3://...: TensorFlow's file system
        import tensorflow as tf

        return tf.io.gfile.glob(pattern)
    return glob.glob(pattern)


def gpus_visible() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def steps_per_loop(options: RunOptions) -> int:
    """--steps-per-loop, else 1 on a CPU (no gain there) and 100 with a GPU."""
    if options.steps_per_loop:
        return options.steps_per_loop
    return GPU_STEPS_PER_LOOP if gpus_visible() else 1


def check_precision(options: RunOptions) -> None:
    """--precision mixed_float16 only where it can work: an SSD model, a GPU."""
    from odhelper.pipeline import registry

    if options.precision == "float32":
        return
    spec = registry.get(options.model)
    if spec.meta_architecture not in MIXED_PRECISION_ARCHITECTURES:
        raise UsageError(f"--precision {options.precision}: not supported for {options.model} "
                         f"({spec.meta_architecture}); use it with an SSD model or train in "
                         "float32")
    if not gpus_visible():
        raise UsageError(f"--precision {options.precision} needs a GPU and TensorFlow sees "
                         "none (on a CPU it is slower, not faster); `odhelper doctor` lists "
                         "the GPUs")


@contextlib.contextmanager
def precision(name: str):
    """The Keras policy `name` while the training model is built; float32 again after
    it (evaluation copies and the exported model are float32)."""
    import tensorflow as tf

    if name == "float32":
        yield
        return
    tf.keras.mixed_precision.set_global_policy(name)
    log.info("Precision: %s (float16 compute, float32 weights)", name)
    try:
        yield
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")


class CopyEvaluator:
    """Evaluates the newest checkpoint of `manager` in a copy of the model built
    outside any distribution strategy: the chief of a multi-worker run evaluates
    alone, with no collective op the other workers would have to join."""

    def __init__(self, manager, configs: dict):
        from odhelper.engine.evaluator import Evaluator
        from odhelper.engine.restore import inference_model

        self.manager = manager
        self.copy = inference_model(configs)
        self.evaluator = Evaluator(self.copy.model, configs)

    def evaluate(self, step: int, writer=None) -> dict[str, float]:
        self.copy.restore(self.manager.latest_checkpoint)
        return self.evaluator.evaluate(step, writer)
