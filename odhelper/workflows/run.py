"""`odhelper run`: tfrecord (optional) -> config -> train with periodic evaluation
-> export -> report, in ONE process, everything in the run directory."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files, log
from odhelper.options.data import TfrecordOptions
from odhelper.options.fields import save_yaml
from odhelper.options.training import RunOptions
from odhelper.rundir import LABEL_MAP, RunDir


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


def _dataset(options: RunOptions) -> Path:
    """Build the dataset from -i XML_DIR, or reuse it when its fingerprint matches."""
    from odhelper.data.build import build_dataset, dataset_is_current

    if options.input is None:
        return options.dataset
    tfrecord = TfrecordOptions(input=options.input, output=options.dataset, seed=options.seed,
                               split_ratio=options.split_ratio, copy_label_map=False)
    if dataset_is_current(tfrecord):
        log.info("TF Records reused: %s matches %s", options.dataset, options.input)
        return options.dataset
    with log.stage("TF Record Generator", "conversion", input=options.input) as stage:
        content = build_dataset(tfrecord)
        stage.extra["train images"] = content["splits"]["train"]["images"]
        stage.extra["validate images"] = content["splits"]["validate"]["images"]
    return options.dataset


def _configure(options: RunOptions, run_dir: RunDir, dataset: Path) -> dict:
    """Fill the template into RUN/pipeline.config (label map copied into RUN)."""
    from odhelper.pipeline import config, registry, zoo

    spec = registry.get(options.model)
    config.read_dataset(dataset)  # clear error when the dataset is missing or broken
    files.write_text(run_dir.label_map, (dataset / LABEL_MAP).read_text(encoding="utf-8"))
    checkpoint = run_dir.fine_tune_checkpoint() if run_dir.latest_step() else \
        zoo.resolve(spec, options.checkpoint, options.from_scratch)
    configs = config.fill(config.FillRequest(
        model=options.model, dataset=dataset, steps=options.steps,
        batch_size=options.batch_size, overrides=options.set, checkpoint=checkpoint,
        label_map=run_dir.label_map))
    config.write(configs, run_dir.pipeline_config)
    return configs


def _hooks(options: RunOptions, run_dir: RunDir, setup, chief: bool):
    from odhelper.engine import hooks as h
    from odhelper.engine.evaluator import Evaluator
    from odhelper.engine.trainer import CheckpointHook, NanGuard

    checkpoints = CheckpointHook(options.checkpoint_every)
    if not chief:  # another worker: train and save, nothing else
        return [NanGuard(), checkpoints]
    chosen = [NanGuard(), h.TrainLogHook(run_dir, options.log_every, options.eval_every),
              checkpoints]
    if options.eval_mode == "inline":
        best = h.BestKeeper(run_dir, options.best_metric)
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
    from odhelper.engine.distribute import is_chief, make_strategy
    from odhelper.engine.hooks import EvalHook
    from odhelper.engine.trainer import Trainer

    tf.random.set_seed(options.seed)
    log.info("TensorBoard: tensorboard --logdir %s", run_dir.root.resolve())
    with log.stage("Transfer learning", "learning", model=options.model) as stage:
        setup = build_training(configs, run_dir, make_strategy(options.strategy),
                               options.keep_checkpoints)
        chief = is_chief(setup.strategy)
        start = setup.step
        hooks = _hooks(options, run_dir, setup, chief)
        trainer = Trainer(setup, options.steps, options.eval_every, hooks)
        final = trainer.train()
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
    from odhelper.pipeline import registry

    registry.get(options.model)  # unknown model: usage error before anything happens
    run_dir = RunDir(options.run_dir)
    run_dir.root.mkdir(parents=True, exist_ok=True)
    with log.to_dir(run_dir.root):
        return _run(options, run_dir)


def _run(options: RunOptions, run_dir: RunDir) -> RunResult:
    from odhelper.workflows.export import export_run

    started = time.perf_counter()
    log.info("Program start [ model : %s, num steps : %d ]", options.model, options.steps)
    save_yaml(options, run_dir.options_file)
    result = RunResult(run_dir, run_dir.latest_step(), "already finished")
    finished = (run_dir.finished_steps() or 0) >= options.steps
    if finished:
        log.info("Run %s already finished at step %d (--steps %d): nothing to train",
                 run_dir, result.final_step, options.steps)
    else:
        run_dir.done_marker.unlink(missing_ok=True)  # --steps grew: continue training
        if run_dir.latest_step():
            log.info("Continuing %s from step %d to %d", run_dir, run_dir.latest_step(),
                     options.steps)
        dataset = _dataset(options)
        with log.stage("Create config", "config", model=options.model):
            configs = _configure(options, run_dir, dataset)
        if not _train(options, run_dir, configs, result):
            log.info("Worker done: the chief exports and reports")
            return result
    _best_and_last(run_dir, result)
    exported = run_dir.saved_model.exists()
    if options.export and not (finished and exported):
        result.exported = export_run(run_dir, options)
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
