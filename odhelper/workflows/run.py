"""`odhelper run`: tfrecord (optional) -> config -> train with periodic evaluation
-> export -> report, in ONE process, everything in the run directory."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files, log
from odhelper.options.fields import save_yaml
from odhelper.options.training import RunOptions
from odhelper.rundir import LABEL_MAP, RunDir
from odhelper.workflows import scaleout


@dataclass
class RunResult:
    """What a run did. `stopped` says why training ended: "steps" (reached --steps),
    "already finished", "worker" (another worker of a multi-worker run: the chief
    exports) or the early-stopping reason."""
    run_dir: RunDir
    final_step: int
    stopped: str
    best_step: int | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    last_metrics: dict[str, float] = field(default_factory=dict)
    export: Path | None = None
    exported: object = None  # workflows.export.ExportResult (artifacts checked, failures)
    report: Path | None = None
    seconds: float = 0.0
    steps_per_second: float = 0.0


def _dataset(options: RunOptions, workers: int, chief: bool) -> tuple[Path, Path | None]:
    """(dataset, scratch folder to remove): build the dataset from -i XML_DIR, or reuse
    it when its fingerprint matches."""
    from odhelper.data.build import build_dataset, dataset_is_current

    if options.input is None:
        return options.dataset, None
    tfrecord = scaleout.tfrecord_options(options, workers)
    if not chief:
        return scaleout.worker_dataset(tfrecord)
    if dataset_is_current(tfrecord):
        log.info("TF Records reused: %s matches %s", options.dataset, options.input)
        return options.dataset, None
    with log.stage("TF Record Generator", "conversion", input=options.input) as stage:
        content = build_dataset(tfrecord)
        stage.extra["train images"] = content["splits"]["train"]["images"]
        stage.extra["validate images"] = content["splits"]["validate"]["images"]
        if "test" in content["splits"]:  # held out: scored once at the end, apart
            stage.extra["test images"] = content["splits"]["test"]["images"]
    return options.dataset, None


def _configure(options: RunOptions, run_dir: RunDir, dataset: Path, chief: bool) -> dict:
    """Fill the template into RUN/pipeline.config (label map copied into RUN); another
    worker only fills it (the chief writes the run directory)."""
    from odhelper.pipeline import augment, config, registry, zoo

    spec = registry.get(options.model)
    config.read_dataset(dataset)  # clear error when the dataset is missing or broken
    if chief:
        files.write_text(run_dir.label_map, (dataset / LABEL_MAP).read_text(encoding="utf-8"))
        checkpoint = run_dir.fine_tune_checkpoint() if run_dir.latest_step() else \
            zoo.resolve(spec, options.checkpoint, options.from_scratch)
    else:  # another worker restores nothing: it takes the chief's state
        checkpoint = None
    configs = config.fill(config.FillRequest(
        model=options.model, dataset=dataset, steps=options.steps,
        batch_size=options.batch_size, overrides=options.set, checkpoint=checkpoint,
        label_map=run_dir.label_map if chief else dataset / LABEL_MAP,
        augmentation=options.augmentation))
    if chief:
        config.write(configs, run_dir.pipeline_config)
        options.augmentations = augment.describe(configs["train_config"])
        save_yaml(options, run_dir.options_file)  # with the effective augmentations
    return configs


def _hooks(options: RunOptions, run_dir: RunDir, setup, chief: bool):
    from odhelper.engine import hooks as h
    from odhelper.engine.evaluator import Evaluator
    from odhelper.engine.distribute import several_workers
    from odhelper.engine.trainer import CheckpointHook, NanGuard

    checkpoints = CheckpointHook(options.checkpoint_every)
    if not chief:  # another worker: train and save, nothing else
        return [NanGuard(), checkpoints]
    chosen = [NanGuard(), h.TrainLogHook(run_dir, options.log_every, options.eval_every),
              checkpoints]
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
    return chosen


def _train(options: RunOptions, run_dir: RunDir, configs: dict, result: RunResult) -> bool:
    """Train; True when this process is the chief (it exports and reports)."""
    import tensorflow as tf

    from odhelper.engine.builder import build_training
    from odhelper.engine.distribute import is_chief, make_strategy, worker_count
    from odhelper.engine.hooks import EvalHook
    from odhelper.engine.trainer import Trainer

    scaleout.check_shards(configs, worker_count(options.strategy))
    scaleout.check_precision(options)
    strategy = make_strategy(options.strategy, options.cpu_replicas)
    tf.random.set_seed(options.seed)
    log.info("TensorBoard: tensorboard --logdir %s", run_dir.root.resolve())
    with log.stage("Transfer learning", "learning", model=options.model) as stage:
        with scaleout.precision(options.precision):
            setup = build_training(configs, run_dir, strategy, options.keep_checkpoints)
        chief = is_chief(setup.strategy)
        start = setup.step
        try:
            hooks = _hooks(options, run_dir, setup, chief)
            trainer = Trainer(setup, options.steps, options.eval_every, hooks,
                              scaleout.steps_per_loop(options), options.checkpoint_every)
            final = trainer.train()
            if not chief:  # evidence that the workers agree, before the folder goes
                scaleout.log_worker_checkpoint(setup.manager.latest_checkpoint)
        finally:
            scaleout.remove_scratch(setup.scratch_dir)
        stage.extra.update({"steps": final - start, "final step": final,
                            "steps/s": round(trainer.steps_per_second, 3)})
        if trainer.first_step_seconds is not None:
            stage.extra["first step s"] = round(trainer.first_step_seconds, 1)
        if trainer.stop_reason:
            stage.extra["stopped"] = trainer.stop_reason
    result.final_step, result.steps_per_second = final, trainer.steps_per_second
    result.stopped = trainer.stop_reason or "steps"
    for hook in hooks:
        if isinstance(hook, EvalHook):
            result.last_metrics = hook.last_metrics
    if not chief:
        result.stopped = "worker"
        return False
    files.write_json(run_dir.done_marker, {"steps": options.steps, "final_step": final,
                                           "stopped": trainer.stop_reason})
    return True


def _best_and_last(run_dir: RunDir, result: RunResult) -> None:
    """The best evaluation so far, and the last one when this process made none
    (a run resumed after its training had finished)."""
    import json

    if run_dir.best_record.is_file():
        record = json.loads(run_dir.best_record.read_text())
        result.best_step, result.best_metrics = record.get("step"), record.get("metrics", {})
    if not result.last_metrics and run_dir.timings.is_file():
        for line in reversed(run_dir.timings.read_text().splitlines()):
            record = json.loads(line) if '"Evaluate model"' in line else {}
            if record.get("status") == "success":
                result.last_metrics = {k: float(v) for k, v in record.items()
                                       if isinstance(v, (int, float)) and "/" in k}
                break


def run(options: RunOptions) -> RunResult:
    """The whole run (or the rest of it, when resumed)."""
    from odhelper.engine.distribute import chief_task
    from odhelper.pipeline import config, registry

    registry.get(options.model)  # unknown model: usage error before anything happens
    if options.input is None:  # a missing dataset: said before the run folder is made
        config.read_dataset(options.dataset)
    run_dir = RunDir(options.run_dir)
    chief = chief_task(options.strategy)  # another worker writes nothing into RUN
    if not chief:
        return _run(options, run_dir, chief)
    with run_dir.locked("run"), log.to_dir(run_dir.root):
        return _run(options, run_dir, chief)


def _run(options: RunOptions, run_dir: RunDir, chief: bool) -> RunResult:
    from odhelper.engine.distribute import worker_count
    from odhelper.workflows.export import export_run

    started = time.perf_counter()
    log.info("Program start [ model : %s, num steps : %d ]", options.model, options.steps)
    if chief:
        save_yaml(options, run_dir.options_file)
    result = RunResult(run_dir, run_dir.latest_step(), "already finished")
    finished = (run_dir.finished_steps() or 0) >= options.steps
    if finished:
        log.info("Run %s already finished at step %d (--steps %d): nothing to train",
                 run_dir, result.final_step, options.steps)
    else:
        if chief:
            run_dir.done_marker.unlink(missing_ok=True)  # --steps grew: continue training
        if run_dir.latest_step():
            log.info("Continuing %s from step %d to %d", run_dir, run_dir.latest_step(),
                     options.steps)
        dataset, scratch = _dataset(options, worker_count(options.strategy), chief)
        try:
            with log.stage("Create config", "config", model=options.model):
                configs = _configure(options, run_dir, dataset, chief)
            trained_as_chief = _train(options, run_dir, configs, result)
        finally:
            scaleout.remove_scratch(scratch)
        if not trained_as_chief:
            log.info("Worker done: the chief exports and reports")
            return result
    _best_and_last(run_dir, result)
    exported = run_dir.saved_model.exists()
    if options.export and not (finished and exported):
        result.exported = export_run(run_dir, options)
        if options.report:  # thresholds.json beside the export; the test split, once
            from odhelper.workflows.evaluate import evaluate_after_run
            evaluate_after_run(run_dir)
    result.export = run_dir.export if run_dir.saved_model.exists() else None
    if options.report and not (finished and run_dir.report.exists()):
        from odhelper.workflows.report import report_after_run
        result.report = report_after_run(run_dir)
    elif run_dir.report.exists():
        result.report = run_dir.report
    result.seconds = time.perf_counter() - started
    log.info("Program end [ Total time : %s ]", log.hms(result.seconds))
    log.record({"stage": "Program", "status": "success", "seconds": round(result.seconds, 3),
                "model": options.model, "num steps": options.steps})
    return result
