"""Fill a pipeline template for a dataset, through the OD API's own config_util.

The template is only read; every change is made on the in-memory protos and
written to the run directory (templates stay byte-identical).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from odhelper import log
from odhelper.datasetdir import DatasetDir, DatasetSummary
from odhelper.errors import OdhelperError
from odhelper.pipeline import augment, boxes, fitting, overrides, registry

FROM_SCRATCH_WARNING = (
    "NO PRE-TRAINED CHECKPOINT: %s will train FROM SCRATCH (random weights). That needs "
    "far more pictures and steps than fine-tuning; pass --weights PATH or run "
    "`odhelper zoo download %s` for transfer learning.")


@dataclass
class FillRequest:
    model: str
    dataset: Path
    steps: int | None = None
    batch_size: int | None = None
    overrides: list[str] = field(default_factory=list)
    checkpoint: str | None = None  # checkpoint prefix (…/ckpt-0) or None: from scratch
    label_map: Path | None = None  # default: the dataset's label_map.pbtxt
    augmentation: augment.Augmentation | None = None  # None: the template's, as is
    image_size: int | None = None  # None: fitted to the data (from scratch) or the template's
    anchors: str = "auto"  # fitted to the boxes (from-scratch SSD), or "template"


def _shard_glob(dataset: Path, shards: list[str]) -> str:
    """'DATASET/train-?????-of-00004.record' for round-robin shard names."""
    first = shards[0]
    prefix, _, rest = first.partition("-")
    _, _, tail = rest.partition("-of-")
    if tail and len(shards) > 1:
        return str(dataset.resolve() / f"{prefix}-?????-of-{tail}")
    return str(dataset.resolve() / first)


def use_dataset(configs: dict, summary: DatasetSummary, label_map: Path) -> None:
    """Point the input readers at `summary`'s records and `label_map`; the eval size and
    the box limits follow the dataset."""
    from odhelper.od import api

    api().config_util.merge_external_params_with_configs(configs, kwargs_dict={
        "num_classes": max(summary.class_ids.values()),
        "label_map_path": str(Path(label_map).resolve()),
        "train_input_path": _shard_glob(summary.folder, summary.splits["train"].shards),
        "eval_input_path": _shard_glob(summary.folder, summary.splits["validate"].shards),
    })
    configs["eval_config"].num_examples = summary.splits["validate"].images
    boxes.fit(configs, summary.raw)


def _schedule(train_config):
    optimizer = train_config.optimizer
    kind = optimizer.WhichOneof("optimizer")
    learning_rate = getattr(optimizer, kind).learning_rate
    return getattr(learning_rate, learning_rate.WhichOneof("learning_rate") or "")


def set_steps(configs: dict, steps: int) -> None:
    """num_steps and every schedule length tied to it (cosine total, warm-up)."""
    train_config = configs["train_config"]
    train_config.num_steps = steps
    schedule = _schedule(train_config)
    if hasattr(schedule, "total_steps"):
        schedule.total_steps = steps
    if hasattr(schedule, "warmup_steps") and schedule.warmup_steps >= steps:
        warmup = max(0, steps // 10)
        log.warning("warm-up of %d steps >= --steps %d: shortened to %d",
                    schedule.warmup_steps, steps, warmup)
        schedule.warmup_steps = warmup


def warmup_steps(configs: dict) -> int:
    """The schedule's warm-up steps (0 without one)."""
    return int(getattr(_schedule(configs["train_config"]), "warmup_steps", 0))


LR_FIELDS = ("learning_rate_base", "warmup_learning_rate", "initial_learning_rate",
             "learning_rate")


def set_batch_size(configs: dict, batch_size: int) -> None:
    """The batch size, with the learning rate scaled linearly (the templates' rates are
    tuned for their own batch); `--set learning_rate=...` still has the last word."""
    train_config = configs["train_config"]
    template_batch = train_config.batch_size
    if batch_size == template_batch:
        return
    factor = batch_size / template_batch
    schedule = _schedule(train_config)
    scaled = [name for name in LR_FIELDS
              if name in schedule.DESCRIPTOR.fields_by_name and getattr(schedule, name)]
    for name in scaled:
        setattr(schedule, name, getattr(schedule, name) * factor)
    for step in getattr(schedule, "schedule", []):  # manual_step_learning_rate
        step.learning_rate *= factor
    train_config.batch_size = batch_size
    log.info("Batch size %d -> %d: learning rate scaled x%.3g (linear scaling rule; "
             "--set learning_rate=... to choose it yourself)", template_batch, batch_size,
             factor)


def _sync_augmentation_size(configs: dict) -> None:
    """EfficientDet's square crop must output the resizer's size."""
    from odhelper.od import api

    size = fitting.resizer_size(api().config_util.get_image_resizer_config(configs["model"]))[1]
    for option in configs["train_config"].data_augmentation_options:
        if option.WhichOneof("preprocessing_step") == "random_scale_crop_and_pad_to_square":
            if size and option.random_scale_crop_and_pad_to_square.output_size != size:
                option.random_scale_crop_and_pad_to_square.output_size = size


def _set_checkpoint(configs: dict, spec: registry.ModelSpec, checkpoint: str | None) -> None:
    train_config = configs["train_config"]
    if checkpoint:
        train_config.fine_tune_checkpoint = str(checkpoint)
        train_config.fine_tune_checkpoint_type = "detection"
    elif spec.checkpoint:
        train_config.fine_tune_checkpoint = ""
        log.warning(FROM_SCRATCH_WARNING, spec.name, spec.name)
    else:
        train_config.fine_tune_checkpoint = ""
        log.info("%s has no zoo checkpoint: training from scratch, as designed", spec.name)


def fill(request: FillRequest) -> dict:
    """The filled configs dict (config_util's form) for `request`."""
    return fill_fitted(request)[0]


def fill_fitted(request: FillRequest) -> tuple[dict, fitting.Fitted]:
    """The filled configs and what was fitted to the data (input size, anchors)."""
    from odhelper.data import labelmap
    from odhelper.od import api

    spec = registry.get(request.model)
    if not spec.template_path.exists():
        raise OdhelperError(f"{spec.template_path}: template of {spec.name} is missing")
    summary = DatasetDir(request.dataset).summary()
    label_map = Path(request.label_map or summary.label_map)
    classes = labelmap.read(label_map)
    config_util = api().config_util  # TensorFlow: after the inputs are checked
    configs = config_util.get_configs_from_pipeline_file(str(spec.template_path))
    use_dataset(configs, summary, label_map)
    if request.batch_size:
        set_batch_size(configs, request.batch_size)
    set_steps(configs, request.steps or configs["train_config"].num_steps)
    _ensure_metrics(configs["eval_config"])
    if configs["train_config"].use_bfloat16:  # TPU only (STACK.md fix 8)
        configs["train_config"].use_bfloat16 = False
    _set_checkpoint(configs, spec, request.checkpoint)
    pairs = overrides.parse(request.overrides)
    overrides.apply(configs, pairs)
    fitted = fitting.fit(configs, summary.raw.get("box_stats"), request.image_size,
                         request.anchors, not request.checkpoint, [key for key, _ in pairs])
    if any(key in ("train_steps", "train_config.num_steps") for key, _ in pairs):
        set_steps(configs, configs["train_config"].num_steps)  # schedule length follows
    if request.augmentation is None:
        steps = augment.describe(configs["train_config"])
    else:
        steps = augment.apply(configs["train_config"], request.augmentation)
        augment.warn_handedness(classes, steps)
    advice = augment.orientation_advice(summary.raw.get("box_stats"), steps)
    if advice:
        log.info("Fitted to the data: %s", advice)
        fitted.choices.append(advice)
    _sync_augmentation_size(configs)
    return configs, fitted


def _ensure_metrics(eval_config) -> None:
    for metric in ("coco_detection_metrics", "pascal_voc_detection_metrics"):
        if metric not in eval_config.metrics_set:
            eval_config.metrics_set.append(metric)
    eval_config.include_metrics_per_category = True


def write(configs: dict, path: Path) -> Path:
    """Save the filled configs as a pipeline.config text file, atomically."""
    from google.protobuf import text_format

    from odhelper import files
    from odhelper.od import api

    proto = api().config_util.create_pipeline_proto_from_configs(configs)
    files.write_text(path, text_format.MessageToString(proto))
    return Path(path)


def load(path: Path) -> dict:
    from odhelper.od import api

    if not Path(path).exists():
        raise OdhelperError(f"{path}: pipeline config not found")
    return api().config_util.get_configs_from_pipeline_file(str(path))
