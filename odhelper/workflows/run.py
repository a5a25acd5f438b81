"""`odhelper run`: tfrecord (optional) -> config -> train with periodic evaluation
-> export -> report, in ONE process, everything in the run directory.

Before anything is written the run folder is checked (workflows/resume.py): a
folder trained on another dataset is refused, a resumed run keeps its recorded
configuration.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files, log
from odhelper.options.training import RunOptions
from odhelper.rundir import RunDir
from odhelper.workflows import resume, scaleout


@dataclass
class RunResult:
    """What a run did. `stopped` says why training ended: "steps" (reached --steps),
    "already finished", "worker" (another worker of a multi-worker run: the chief
    exports) or the early-stopping reason. `history` holds every evaluation of the
    run (RUN/eval/history.jsonl), oldest first."""
    run_dir: RunDir
    final_step: int
    stopped: str
    best_step: int | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    last_metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    export: Path | None = None
    exported: object = None  # workflows.export.ExportResult (artifacts checked, failures)
    report: Path | None = None
    seconds: float = 0.0
    steps_per_second: float = 0.0
    resumed: bool = False


def _hooks(options: RunOptions, run_dir: RunDir, setup, chief: bool, plan: resume.Plan):
    from odhelper.engine import hooks as h
    from odhelper.engine.distribute import several_workers
    from odhelper.engine.evaluator import Evaluator
    from odhelper.engine.trainer import CheckpointHook, NanGuard

    checkpoints = CheckpointHook(options.checkpoint_every)
    if not chief:  # another worker: train and save, nothing else
        return [NanGuard(), checkpoints]
    export_seconds = _export_seconds(run_dir)  # read once, for the step line and the budget
    chosen = [NanGuard(), h.TrainLogHook(run_dir, options.log_every, options.eval_every,
                                         export_seconds, plan.epoch_steps), checkpoints]
    if options.eval_mode == "inline":
        best = h.BestKeeper(run_dir, options.best_metric)
        if several_workers(setup.strategy):  # alone, on a copy: no collective to join
            log.info("Multi-worker: the chief evaluates a copy of the model at each boundary")
            evaluator = scaleout.CopyEvaluator(setup.manager, setup.configs)
        else:
            evaluator = Evaluator(setup.model, setup.configs)
        chosen.append(h.EvalHook(run_dir, evaluator, best, options.patience))
    elif options.eval_mode == "sidecar":
        from odhelper.engine.sidecar import SidecarHook
        chosen.append(SidecarHook(run_dir, options.best_metric))
    if plan.budgeted:
        chosen.append(_budget_hook(options, run_dir, plan, setup, export_seconds))
    return chosen


def _budget_hook(options: RunOptions, run_dir: RunDir, plan: resume.Plan, setup,
                 export_seconds: float | None):
    """`--time`: the hook that fits the steps to the budget, recording each total."""
    from odhelper.constants import UNSET_STEPS
    from odhelper.engine.budget import TimeBudget
    from odhelper.pipeline import config

    export = 0.0 if not options.export else export_seconds or (
        30.0 + 30.0 * len(options.tflite_kinds) + 20.0 * options.onnx)
    validate = plan.summary.splits["validate"].images
    test = plan.summary.splits["test"].images if "test" in plan.summary.splits else 0
    guess = 5.0 + 0.1 * validate  # one evaluation, until one is timed
    reserve = export + 15.0 * options.report + guess * test / max(1, validate) * options.export
    if options.export and plan.summary.raw.get("tile"):  # whole pictures scored by tiles
        reserve += guess + 10.0

    def record(total: int, eval_every: int) -> int:
        options.steps, options.eval_every = total, eval_every
        options.checkpoint_every = min(options.checkpoint_every, eval_every)
        files.write_yaml(run_dir.options_file, options)
        config.set_steps(plan.configs, total)
        config.write(plan.configs, run_dir.pipeline_config)
        return config.warmup_steps(plan.configs)

    return TimeBudget(plan.deadline, reserve, setup.budget_schedule, guess,
                      fixed_cadence=options.eval_every != UNSET_STEPS, record=record)


def _export_seconds(run_dir: RunDir) -> float | None:
    """How long this run's last export took, for the time left (None: never timed)."""
    import json

    seconds = None
    for line in run_dir.timings.read_text().splitlines() if run_dir.timings.is_file() else []:
        if '"Export"' in line:
            record = json.loads(line)
            if record.get("stage") == "Export" and record.get("status") == "success":
                seconds = float(record["seconds"])
    return seconds


def _train(options: RunOptions, run_dir: RunDir, plan: resume.Plan, result: RunResult) -> bool:
    """Train; True when this process is the chief (it exports and reports)."""
    import tensorflow as tf

    from odhelper.engine.builder import build_training
    from odhelper.engine.distribute import is_chief, make_strategy, worker_count
    from odhelper.engine.hooks import EvalHook
    from odhelper.engine.trainer import Trainer

    scaleout.check_shards(plan.configs, worker_count(options.strategy))
    scaleout.check_precision(options)
    strategy = make_strategy(options.strategy, options.cpu_replicas)
    tf.random.set_seed(options.seed)
    log.info("TensorBoard: tensorboard --logdir %s", run_dir.root.resolve())
    # the original helper tool's name, when the weights start from a pre-trained model
    title = "Transfer learning" if plan.configs["train_config"].fine_tune_checkpoint \
        else "Training"
    with log.stage(title, "learning", model=options.model) as stage:
        with scaleout.precision(options.precision):
            setup = build_training(plan.configs, run_dir, strategy, options.keep_checkpoints,
                                   budgeted=plan.budgeted)
        chief = is_chief(setup.strategy)
        start = setup.step
        try:
            hooks = _hooks(options, run_dir, setup, chief, plan)
            trainer = Trainer(setup, options.steps, options.eval_every, hooks,
                              scaleout.steps_per_loop(options), options.checkpoint_every)
            final = trainer.train()
            if not chief:  # evidence that the workers agree, before the folder goes
                scaleout.log_worker_checkpoint(setup.manager.latest_checkpoint)
        finally:
            scaleout.remove_scratch(setup.scratch_dir)
        stage.extra.update({"steps": final - start, "final step": final,
                            "steps/s": round(trainer.steps_per_second, 3)})
        if plan.epoch_steps:
            stage.extra["epochs"] = round(final / plan.epoch_steps, 2)
        if trainer.first_step_seconds is not None:
            stage.extra["first step s"] = round(trainer.first_step_seconds, 1)
        if trainer.stop_reason:
            stage.extra["stopped"] = trainer.stop_reason
        result.final_step, result.steps_per_second = final, trainer.steps_per_second
        result.stopped = trainer.stop_reason or "steps"
        for hook in hooks:
            if isinstance(hook, EvalHook):
                result.last_metrics = hook.last_metrics
        released = time.perf_counter()
        del trainer, hooks, setup  # the training graph goes inside the stage's time
        released = time.perf_counter() - released
        if released > 5:  # said when slow: every second after the last evaluation accounted for
            log.info("Releasing the training graph and its input took %.0f s", released)
    if not chief:
        result.stopped = "worker"
        return False
    files.write_json(run_dir.done_marker, {"steps": options.steps, "final_step": final,
                                           "stopped": result.stopped})
    return True


def _from_history(run_dir: RunDir, result: RunResult) -> None:
    """The best and the last evaluation, from the run's records."""
    import json

    result.history = run_dir.history.records()
    if result.history and not result.last_metrics:
        result.last_metrics = result.history[-1]["metrics"]
    if run_dir.best_record.is_file():
        record = json.loads(run_dir.best_record.read_text())
        result.best_step, result.best_metrics = record.get("step"), record.get("metrics", {})


def run(options: RunOptions) -> RunResult:
    """The whole run (or the rest of it, when resumed)."""
    from odhelper.datasetdir import DatasetDir
    from odhelper.engine.distribute import chief_task
    from odhelper.pipeline import registry

    registry.get(options.model)  # unknown model: usage error before anything happens
    if options.input is None:  # a missing dataset: said before the run folder is made
        DatasetDir(options.dataset).summary()
    run_dir = RunDir(options.run_dir)
    if not chief_task(options.strategy):  # another worker writes nothing into RUN
        return _worker(options, run_dir)
    plan = resume.Plan()
    if options.time is not None:  # the budget counts from here
        plan.deadline = time.monotonic() + options.budget_seconds
    total = {"epochs": options.epochs} if options.epochs else {"time": options.time} \
        if options.time else {"num steps": options.steps}
    with run_dir.opened("run", options, ("Program", "program"),
                        check=lambda: resume.prepare(options, run_dir, plan),
                        model=options.model, **total) as opened:
        return _run(options, run_dir, plan, opened.stage)


def _worker(options: RunOptions, run_dir: RunDir) -> RunResult:
    from odhelper.engine.distribute import worker_count

    plan = resume.Plan()
    scratch = resume.worker_plan(options, run_dir, plan, worker_count(options.strategy))
    result = RunResult(run_dir, 0, "worker")
    try:
        _train(options, run_dir, plan, result)
    finally:
        scaleout.remove_scratch(scratch)
    log.info("Worker done: the chief exports and reports")
    return result


def _run(options: RunOptions, run_dir: RunDir, plan: resume.Plan, stage) -> RunResult:
    from odhelper.workflows.evaluate import score_test_split, score_tiled
    from odhelper.workflows.export import export_run

    started = time.perf_counter()
    result = RunResult(run_dir, run_dir.latest_step(), "already finished", resumed=plan.resumed)
    finished = (run_dir.finished_steps() or 0) >= options.steps
    if finished:
        log.info("Run %s already finished at step %d (%s): nothing to train", run_dir,
                 result.final_step, f"--time {options.time}: the steps its budget allowed"
                 if options.time else f"--steps {options.steps}")
    else:
        run_dir.done_marker.unlink(missing_ok=True)  # --steps grew: continue training
        if run_dir.latest_step():
            log.info("Continuing %s from step %d to %d", run_dir, run_dir.latest_step(),
                     options.steps)
        run_dir.record_trained_on(plan.summary.identity(), plan.summary.folder, options.model)
        _train(options, run_dir, plan, result)
    _from_history(run_dir, result)
    if options.export:
        result.exported = export_run(run_dir, options)
        score_test_split(run_dir)
        score_tiled(run_dir)
    result.export = run_dir.export if run_dir.saved_model.exists() else None
    if options.report and not (finished and run_dir.report.exists() and
                               not (result.exported and result.exported.made)):
        from odhelper.workflows.report import report_after_run
        result.report = report_after_run(run_dir)
    elif run_dir.report.exists():
        result.report = run_dir.report
    result.seconds = time.perf_counter() - started
    stage.extra.update({"final step": result.final_step, "stopped": result.stopped})
    return result
