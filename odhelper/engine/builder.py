"""Build everything training needs ONCE: model, input pipeline, optimizer,
global step and checkpoint manager, from the OD API's own builders (the pieces
`model_lib_v2.train_loop` is made of)."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any, Callable

from odhelper import log
from odhelper.engine.distribute import copy_from_chief, is_chief, several_workers
from odhelper.engine.precision import float32_predictions, mixed_policy_active
from odhelper.errors import OdhelperError
from odhelper.od import api, without_autograph
from odhelper.checkpoints import newest_complete
from odhelper.rundir import RunDir


@dataclass
class TrainingSetup:
    """What training needs, built once: the model and everything around it."""
    configs: dict
    strategy: Any
    model: Any
    optimizer: Any
    global_step: Any
    learning_rate: Callable[[], Any]
    checkpoint: Any  # tf.train.Checkpoint(step, model, optimizer)
    manager: Any  # tf.train.CheckpointManager over RUN/checkpoints
    train_input: Any  # distributed, repeated dataset
    restored_from: str | None = None
    scratch_dir: str | None = None  # a non-chief worker's checkpoint folder: remove at exit
    restore_status: Any = None  # of a resume, until the first step checks it
    budget_schedule: Any = None  # `run --time`: engine.budget.BudgetSchedule, its total to fit

    @property
    def step(self) -> int:
        return int(self.global_step.numpy())

    def check_restored(self) -> None:
        """After the first step of a resumed run: every variable that exists by now (the
        model's, the optimizer's slots) took its value from the checkpoint."""
        status, self.restore_status = self.restore_status, None
        if status is None:
            return
        try:
            status.assert_existing_objects_matched()
        except AssertionError as exc:
            reason = str(exc).split(". Showing")[0]  # not the long list of variables
            raise OdhelperError(f"{self.restored_from}: this run's model or optimizer does not "
                                f"match its checkpoint ({reason})") from None


def train_dataset(configs: dict, model, strategy, autotune: bool = False):
    """The training input, repeated and distributed (`autotune`: tf.data's default, for
    scripts/bench_input.py)."""
    import tensorflow as tf

    od = api()

    def dataset_fn(input_context):
        dataset = without_autograph(od.inputs.train_input)(
            train_config=configs["train_config"], train_input_config=configs["train_input_config"],
            model_config=configs["model"], model=model, input_context=input_context).repeat()
        # tf.data's autotuning runs in a thread that the end of the iterator waits for (a
        # finished run waited there for up to half a minute). Without it the AUTOTUNE maps
        # run at tf.data's default parallelism: no slower here (scripts/bench_input.py).
        options = tf.data.Options()
        options.autotune.enabled = autotune
        return dataset.with_options(options)

    return strategy.distribute_datasets_from_function(dataset_fn)


def build_training(configs: dict, run_dir: RunDir, strategy, keep_checkpoints: int = 3,
                   budgeted: bool = False) -> TrainingSetup:
    """Model + data + optimizer + checkpoints; restores the run's latest checkpoint
    if any, else loads the fine-tune checkpoint named in the config (if any). `budgeted`:
    the learning-rate schedule's length is set later (engine/budget.py)."""
    import tensorflow as tf

    from odhelper.engine.budget import budget_schedule

    od = api()
    train_config = configs["train_config"]
    with strategy.scope():
        model = od.model_builder.build(configs["model"], is_training=True, add_summaries=False)
        if mixed_policy_active():  # --precision mixed_float16
            float32_predictions(model)
        train_input = train_dataset(configs, model, strategy)
        global_step = tf.Variable(0, trainable=False, dtype=tf.int64, name="global_step",
                                  aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        optimizer, (learning_rate,) = od.optimizer_builder.build(
            train_config.optimizer, global_step=global_step)
        schedule = budget_schedule(optimizer, train_config.optimizer, global_step) \
            if budgeted else None
        learning_rate = schedule or learning_rate
        if train_config.optimizer.use_moving_average:
            od.model_lib_v2._ensure_model_is_built(  # noqa: SLF001 - as train_loop does
                model, train_input, train_config.unpad_groundtruth_tensors)
            optimizer.shadow_copy(model)
        checkpoint = tf.train.Checkpoint(step=global_step, model=model, optimizer=optimizer)
        folder, scratch = _checkpoint_dir(run_dir, strategy)
        manager = tf.train.CheckpointManager(checkpoint, folder, max_to_keep=keep_checkpoints)
        setup = TrainingSetup(configs, strategy, model, optimizer, global_step,
                              learning_rate if callable(learning_rate) else (lambda: learning_rate),
                              checkpoint, manager, train_input, scratch_dir=scratch,
                              budget_schedule=schedule)
        if not several_workers(strategy):
            _restore(setup)
            return setup
    try:
        _restore_every_worker(setup)
    except BaseException:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    return setup


def _checkpoint_dir(run_dir: RunDir, strategy) -> tuple[str, str | None]:
    """(folder, scratch): RUN/checkpoints; another worker of a multi-worker run must
    save too (the save is collective) but into a folder of its own, as
    model_lib_v2.train_loop does: a scratch folder to remove at exit."""
    import tempfile

    if is_chief(strategy):
        return str(run_dir.checkpoints), None
    scratch = tempfile.mkdtemp(prefix="odhelper-worker-ckpt-")
    return scratch, scratch


def _restore_every_worker(setup: TrainingSetup) -> None:
    """Multi-worker: every variable exists first (model and optimizer slots), the chief
    restores (its latest checkpoint, else the fine-tune one), then every worker takes
    the chief's values: a resumed run starts identical everywhere, whether or not the
    other workers see the chief's run directory."""
    od = api()
    train_config = setup.configs["train_config"]
    with setup.strategy.scope():  # every worker creates the same variables, together
        if not train_config.optimizer.use_moving_average:  # else built already
            od.model_lib_v2._ensure_model_is_built(  # noqa: SLF001 - as train_loop does
                setup.model, setup.train_input, train_config.unpad_groundtruth_tensors)
        _build_optimizer(setup.optimizer, setup.model.trainable_variables)
    if is_chief(setup.strategy):  # outside the scope: what the restore creates is local
        _restore(setup)
    optimizer_variables = setup.optimizer.variables
    if callable(optimizer_variables):
        optimizer_variables = optimizer_variables()
    copy_from_chief(setup.strategy, [setup.global_step, *setup.model.variables,
                                     *optimizer_variables])
    log.info("Every worker starts from the chief's state (step %d)", setup.step)


def _build_optimizer(optimizer, variables) -> None:
    """Create the optimizer's slot variables now rather than at the first step."""
    if hasattr(optimizer, "_create_all_weights"):  # legacy Keras optimizers
        optimizer._create_all_weights(variables)  # noqa: SLF001
    else:
        optimizer.build(variables)


def _restore(setup: TrainingSetup) -> None:
    od = api()
    train_config = setup.configs["train_config"]
    latest = newest_complete(setup.manager.directory) or setup.manager.latest_checkpoint
    if latest:
        # The restore is deferred: the model's variables and the optimizer's slots take
        # their saved values when they are made, at the first step, which then checks
        # that they did (check_restored). A process that takes no step (already at
        # --steps, or stopped first) leaves them unmatched, and TensorFlow would list
        # each (~740 lines) when the status is deleted: expect_partial() keeps it quiet.
        status = setup.checkpoint.restore(latest).expect_partial()
        if setup.step > 0:  # a step-0 checkpoint has no optimizer slots to check
            setup.restore_status = status
        setup.restored_from = latest
        log.info("Resuming from %s (step %d)", latest, setup.step)
    elif train_config.fine_tune_checkpoint:
        od.config_util.update_fine_tune_checkpoint_type(train_config)
        log.info("Loading the pre-trained checkpoint %s", train_config.fine_tune_checkpoint)
        od.model_lib_v2.load_fine_tune_checkpoint(
            setup.model, train_config.fine_tune_checkpoint,
            train_config.fine_tune_checkpoint_type, train_config.fine_tune_checkpoint_version,
            train_config.run_fine_tune_checkpoint_dummy_computation, setup.train_input,
            train_config.unpad_groundtruth_tensors)
        setup.restored_from = train_config.fine_tune_checkpoint


def make_train_step(setup: TrainingSetup, loops: bool = True):
    """A tf.function taking `steps` (a tensor, >= 1) steps with the OD API's
    `eager_train_step` in one call; returns the reduced loss dict of the last one.
    Built once, traced once. Without `loops` it takes one step per call: the graph
    loop traces the step a second time (its body), which costs start-up."""
    import tensorflow as tf

    od = api()
    train_config = setup.configs["train_config"]
    strategy = setup.strategy
    clip = train_config.gradient_clipping_by_norm or None

    @without_autograph
    def replica_step(features, labels):
        losses = od.model_lib_v2.eager_train_step(
            setup.model, features, labels, train_config.unpad_groundtruth_tensors,
            setup.optimizer, training_step=setup.global_step,
            add_regularization_loss=train_config.add_regularization_loss,
            clip_gradients_value=clip, num_replicas=strategy.num_replicas_in_sync)
        setup.global_step.assign_add(1)
        return losses

    def one_step(iterator):
        features, labels = next(iterator)
        per_replica = strategy.run(replica_step, args=(features, labels))
        return od.model_lib_v2.reduce_dict(strategy, per_replica, tf.distribute.ReduceOp.SUM)

    @tf.function
    def train_step(iterator, steps):
        losses = one_step(iterator)
        for _ in tf.range(steps - 1):  # a graph loop: no host round trip between steps
            losses = one_step(iterator)
        return losses

    @tf.function
    def single_step(iterator, steps):  # noqa: ARG001 - the same call as train_step
        return one_step(iterator)

    return train_step if loops else single_step
