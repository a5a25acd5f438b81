"""What `odhelper run` settles before it writes anything into the run folder: the
dataset (made from -i, or given), that it is the dataset the run was trained on,
and the configuration (filled from the template for a new run; the recorded one,
for a resume).

A run folder trained on another dataset is refused in one line naming both (a
training side that only grows is the same dataset). A resume keeps its recorded
configuration: a flag that would change it is refused, naming the flag; what is
safe to change (the total steps, the dataset's paths and box limits) is applied and
said in the log. Folders of earlier versions (no identity record) are adopted.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odhelper import files, log
from odhelper.datasetdir import DatasetDir, DatasetIdentity, DatasetSummary
from odhelper.errors import OdhelperError, UsageError
from odhelper.options.fields import given_fields
from odhelper.options.training import CONFIG_FIELDS, RunOptions
from odhelper.rundir import RunDir
from odhelper.workflows import scaleout


@dataclass
class Plan:
    summary: DatasetSummary | None = None
    configs: dict | None = None
    resumed: bool = False
    epoch_steps: float | None = None  # steps of one pass over the training records
    deadline: float | None = None  # `--time`: time.monotonic() when everything must be done
    budgeted: bool = False  # `--time` and the steps are still to be fitted to the budget


def prepare(options: RunOptions, run_dir: RunDir, plan: Plan) -> None:
    """Fill `plan`; raise (before the run folder is written) what refuses the command.
    A folder without a checkpoint is a new run (an earlier attempt stopped before
    training): its configuration is filled again."""
    plan.resumed = run_dir.pipeline_config.is_file() and run_dir.latest_step() > 0
    if plan.resumed:
        keep_recorded_configuration(options, run_dir)
    if options.time is not None:
        plan.budgeted = not _budget_recorded(options, run_dir)
    plan.summary = _dataset(options, run_dir)
    with log.stage("Create config", "config", model=options.model):
        plan.configs = _recorded_config(options, run_dir, plan.summary) if plan.resumed \
            else _new_config(options, run_dir, plan.summary)
    steps_and_epochs(options, plan, say=True)


def _budget_recorded(options: RunOptions, run_dir: RunDir) -> bool:
    """A `--time` run that fitted its steps to the budget continues to those steps (and
    keeps its evaluation cadence); True when that is so."""
    import yaml

    from odhelper.constants import UNSET_STEPS

    if not run_dir.latest_step() or not run_dir.options_file.is_file():
        return False
    recorded = yaml.safe_load(run_dir.options_file.read_text(encoding="utf-8")) or {}
    steps = recorded.get("steps")
    if recorded.get("time") is None or not isinstance(steps, int) or steps >= UNSET_STEPS:
        return False
    options.steps = steps
    if options.eval_every == UNSET_STEPS:
        options.eval_every = options.checkpoint_every = int(recorded.get("eval_every") or steps)
    log.info("--time %s: this run's budget was fitted to %d steps (%s): it continues to them",
             options.time, steps, run_dir.options_file)
    return True


def steps_and_epochs(options: RunOptions, plan: Plan, say: bool = False) -> None:
    """One epoch is one pass over the training records as written (--balance copies
    count) at the configuration's batch size: --epochs becomes options.steps; with
    `say`, the log says both (and plan.epoch_steps feeds the step line)."""
    import math

    batch = plan.configs["train_config"].batch_size
    records = plan.summary.splits["train"].record_count if "train" in plan.summary.splits \
        else 0
    plan.epoch_steps = records / batch if records and batch else None
    if options.epochs is not None:
        if not plan.epoch_steps:
            raise OdhelperError(f"{plan.summary.folder}: no training records, so --epochs "
                                "cannot be counted; give --steps")
        options.steps = max(1, math.ceil(options.epochs * plan.epoch_steps))
    if say and plan.epoch_steps and not plan.budgeted:
        log.info("%d steps = %.2f epochs (%d training records, batch %d)%s", options.steps,
                 options.steps / plan.epoch_steps, records, batch,
                 f"; --epochs {options.epochs:g}" if options.epochs is not None else "")


def worker_plan(options: RunOptions, run_dir: RunDir, plan: Plan, workers: int) -> str | None:
    """Another worker of a multi-worker run: the dataset it can read (a scratch copy when
    the chief's is out of reach: returned, to remove) and the template's config."""
    from odhelper.pipeline import config

    scratch = None
    if options.input is not None:
        dataset, scratch = scaleout.worker_dataset(scaleout.tfrecord_options(options, workers))
    else:
        dataset = options.dataset
    plan.summary = DatasetDir(dataset).summary()
    plan.configs = config.fill(_fill_request(options, plan.summary.folder, None,
                                             plan.summary.label_map))
    if options.epochs is not None:
        steps_and_epochs(options, plan)
        config.set_steps(plan.configs, options.steps)
    return scratch


# -- the dataset and its identity ---------------------------------------------------------
def _dataset(options: RunOptions, run_dir: RunDir) -> DatasetSummary:
    if options.input is None:  # before TensorFlow is imported: a missing dataset says so
        summary = DatasetDir(options.dataset).summary()
        check_identity(run_dir, summary)
        return summary
    from odhelper.data.build import build_dataset, dataset_is_current
    from odhelper.engine.distribute import worker_count

    tfrecord = scaleout.tfrecord_options(options, worker_count(options.strategy))
    if dataset_is_current(tfrecord):
        log.info("TF Records reused: %s matches %s", options.dataset, options.input)
        summary = DatasetDir(options.dataset).summary()
        check_identity(run_dir, summary)
        return summary
    build_dataset(tfrecord, accept=lambda new: check_identity(run_dir, new, options.input))
    return DatasetDir(options.dataset).summary()


def check_identity(run_dir: RunDir, summary: DatasetSummary, source: Path | None = None
                   ) -> None:
    """Refuse a dataset that is not the one the run's checkpoints were trained on
    (`source`: where it is made from, named instead of its folder)."""
    if not run_dir.latest_step():
        return  # nothing trained yet: any dataset will do
    recorded = run_dir.trained_on() or _adopted(run_dir, summary)
    different = recorded.differences(summary.identity())
    if different:
        raise OdhelperError(
            f"{run_dir}: trained on dataset {recorded.name!r}; {source or summary.folder} "
            f"({summary.name!r}) is another one ({'; '.join(different)}). Train it in "
            "another --run-dir (the default is runs/<dataset>-<model>), or remove "
            f"{run_dir} to start over")


def _adopted(run_dir: RunDir, summary: DatasetSummary) -> DatasetIdentity:
    """The identity of a run folder made before runs recorded one: its label map, and
    the held-out pictures of the dataset its config reads when it is still there."""
    from odhelper.data import labelmap

    classes = labelmap.read(run_dir.label_map) if run_dir.label_map.is_file() \
        else summary.class_ids
    recorded_dataset = _config_dataset(run_dir)
    earlier = DatasetDir(recorded_dataset).read_or_none() if recorded_dataset else None
    held_out = earlier.identity().held_out if earlier else summary.identity().held_out
    identity = DatasetIdentity(earlier.name if earlier else summary.name, classes, held_out)
    log.info("%s: made by an earlier version (no %s): adopted as trained on %s", run_dir,
             run_dir.identity_file.name, earlier.folder if earlier else summary.folder)
    return identity


def _config_dataset(run_dir: RunDir) -> Path | None:
    """The dataset folder the run's pipeline.config reads its validation records from."""
    import re

    found = re.search(r'eval_input_reader\s*\{.*?input_path:\s*"([^"]+)"',
                      run_dir.pipeline_config.read_text(encoding="utf-8"), re.S)
    return Path(found.group(1)).parent if found else None


# -- the configuration ----------------------------------------------------------------------
def keep_recorded_configuration(options: RunOptions, run_dir: RunDir) -> None:
    """A resume takes the configuration options recorded in run.yaml; one given with
    another value is refused, naming the flag."""
    from odhelper.options import fields

    try:
        recorded = fields.load_yaml(RunOptions, run_dir.options_file) \
            if run_dir.options_file.is_file() else {}
    except UsageError:
        recorded = {}
    given = given_fields(options)
    changed = []
    for name in CONFIG_FIELDS:
        if name not in recorded:
            continue
        if name in given and getattr(options, name) != recorded[name]:
            changed.append(f"--{name.replace('_', '-')} {_shown(getattr(options, name))} "
                           f"(recorded: {_shown(recorded[name])})")
        else:
            setattr(options, name, recorded[name])
    options.fitted = recorded.get("fitted") or options.fitted  # what the first start chose
    if changed:
        raise UsageError(
            f"{run_dir}: a resumed run keeps the configuration it was started with; "
            f"{', '.join(changed)} would change it. Drop the flag, or train into another "
            "--run-dir")


def _shown(value) -> str:
    if isinstance(value, list):
        return " ".join(map(str, value)) or "(none)"
    return str(value)


def _fill_request(options: RunOptions, dataset: Path, checkpoint: str | None,
                  label_map: Path):
    from odhelper.pipeline import config

    return config.FillRequest(
        model=options.model, dataset=dataset, steps=options.steps,
        batch_size=options.batch_size, overrides=options.set, checkpoint=checkpoint,
        label_map=label_map, augmentation=options.augmentation, image_size=options.image_size,
        anchors=options.anchors)


def _new_config(options: RunOptions, run_dir: RunDir, summary: DatasetSummary) -> dict:
    """The template filled for the dataset, written into RUN with the label map."""
    from odhelper.pipeline import augment, config, registry, zoo

    files.write_text(run_dir.label_map, summary.label_map.read_text(encoding="utf-8"))
    checkpoint = zoo.resolve(registry.get(options.model), options.weights,
                             options.from_scratch)
    configs, fitted = config.fill_fitted(_fill_request(options, summary.folder, checkpoint,
                                                       run_dir.label_map))
    options.image_size, options.fitted = fitted.image_size, fitted.choices
    if options.epochs is not None:
        steps_and_epochs(options, Plan(summary, configs))
        config.set_steps(configs, options.steps)
    config.write(configs, run_dir.pipeline_config)
    options.augmentations = augment.describe(configs["train_config"])
    return configs


def _recorded_config(options: RunOptions, run_dir: RunDir, summary: DatasetSummary) -> dict:
    """The run's own pipeline.config, with what may change on a resume: the dataset's
    paths and box limits (active-learn rounds grow the training side) and the total
    steps (with the schedule's length). Each change is said."""
    from odhelper.pipeline import augment, config

    configs = config.load(run_dir.pipeline_config)
    if options.epochs is not None:
        steps_and_epochs(options, Plan(summary, configs))
    before = _text(configs)
    config.use_dataset(configs, summary, run_dir.label_map)
    if _text(configs) != before:
        log.info("Resume: input paths and limits now those of %s (same dataset: the same "
                 "classes and held-out pictures)", summary.folder)
    if configs["train_config"].num_steps != options.steps:
        log.info("Resume: --steps %d (was %d); the learning-rate schedule's length follows",
                 options.steps, configs["train_config"].num_steps)
        config.set_steps(configs, options.steps)
    if _text(configs) != before:
        config.write(configs, run_dir.pipeline_config)
    else:
        log.info("Resume: configuration as recorded in %s", run_dir.pipeline_config)
    options.augmentations = augment.describe(configs["train_config"])
    return configs


def _text(configs: dict) -> str:
    from google.protobuf import text_format

    from odhelper.od import api

    proto = api().config_util.create_pipeline_proto_from_configs(configs)
    return text_format.MessageToString(proto)
