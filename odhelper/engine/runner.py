"""`odhelper run`: tfrecord (optional) -> config -> train with periodic evaluation
-> export, in ONE process, everything in the run directory."""
from __future__ import annotations

import json
import time
from pathlib import Path

from odhelper import files, log
from odhelper.options import fields as settings
from odhelper.engine.options import RunOptions

DONE = "train_done.json"


def _dataset(options: RunOptions) -> Path:
    """Build the dataset from -i XML_DIR, or reuse it when its fingerprint matches."""
    from odhelper.data.build import build_dataset, dataset_is_current
    from odhelper.options.data import TfrecordOptions

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


def _configure(options: RunOptions, dataset: Path) -> dict:
    """Fill the template into RUN/pipeline.config (label map copied into RUN)."""
    from odhelper.pipeline import config, registry, zoo

    spec = registry.get(options.model)
    config.read_dataset(dataset)  # clear error when the dataset is missing or broken
    run_dir = options.run_dir
    label_map = run_dir / "label_map.pbtxt"
    files.write_text(label_map, (dataset / "label_map.pbtxt").read_text(encoding="utf-8"))
    checkpoint = _previous_checkpoint(run_dir) if latest_step(run_dir) else \
        zoo.resolve(spec, options.checkpoint, options.from_scratch)
    configs = config.fill(config.FillRequest(
        model=options.model, dataset=dataset, steps=options.steps,
        batch_size=options.batch_size, overrides=options.set, checkpoint=checkpoint,
        label_map=label_map))
    config.write(configs, run_dir / "pipeline.config")
    return configs


def _previous_checkpoint(run_dir: Path) -> str | None:
    """The fine-tune checkpoint a resumed run started from (no new zoo look-up)."""
    import re

    previous = run_dir / "pipeline.config"
    found = re.search(r'fine_tune_checkpoint: "([^"]+)"', previous.read_text()) \
        if previous.exists() else None
    return found.group(1) if found else None


def latest_step(run_dir: Path) -> int:
    """Step of RUN/checkpoints' latest checkpoint, 0 if none (no TensorFlow needed)."""
    state = Path(run_dir) / "checkpoints" / "checkpoint"
    if not state.exists():
        return 0
    for line in state.read_text().splitlines():
        if line.startswith("model_checkpoint_path:"):
            name = line.split(":", 1)[1].strip().strip('"')
            return int(name.rsplit("-", 1)[-1])
    return 0


def _hooks(options: RunOptions, session):
    from odhelper.engine import hooks as h
    from odhelper.engine.distribute import is_chief
    from odhelper.engine.evaluator import Evaluator
    from odhelper.engine.trainer import CheckpointHook, NanGuard

    if not is_chief(session.strategy):  # another worker: train and save, nothing else
        return [NanGuard(), CheckpointHook()]
    chosen = [NanGuard(), h.TrainLogHook(options.run_dir, options.log_every), CheckpointHook()]
    if options.eval_mode == "inline":
        best = h.BestKeeper(options.run_dir, options.best_metric)
        evaluator = Evaluator(session.model, session.configs)
        chosen.append(h.EvalHook(options.run_dir, evaluator, best, options.patience))
    elif options.eval_mode == "sidecar":
        from odhelper.engine.sidecar import SidecarHook
        chosen.append(SidecarHook(options))
    return chosen


def _train(options: RunOptions, configs: dict) -> bool:
    """Train; True when this process is the chief (it exports and reports)."""
    import tensorflow as tf

    from odhelper.engine.builder import build_session
    from odhelper.engine.distribute import is_chief, make_strategy
    from odhelper.engine.trainer import Trainer

    tf.random.set_seed(options.seed)
    log.info("TensorBoard: tensorboard --logdir %s", options.run_dir.resolve())
    with log.stage("Transfer learning", "learning", model=options.model) as stage:
        session = build_session(configs, options.run_dir, make_strategy(options.strategy),
                                options.keep_checkpoints)
        start = session.step
        trainer = Trainer(session, options.steps, options.eval_every, _hooks(options, session))
        final = trainer.train()
        stage.extra.update({"steps": final - start, "final step": final,
                            "steps/s": round(trainer.steps_per_second, 3)})
        if trainer.first_step_seconds is not None:
            stage.extra["first step s"] = round(trainer.first_step_seconds, 1)
        if trainer.stop_reason:
            stage.extra["stopped"] = trainer.stop_reason
    if not is_chief(session.strategy):
        return False
    files.write_json(options.run_dir / DONE, {"steps": options.steps, "final_step": final,
                                              "stopped": trainer.stop_reason})
    return True


def _finished(options: RunOptions) -> bool:
    done = options.run_dir / DONE
    if not done.exists():
        return False
    record = json.loads(done.read_text())
    return record.get("steps", 0) >= options.steps


def _report(run_dir: Path) -> None:
    """The HTML report; a failure here is logged, it never fails a trained run."""
    from odhelper.report import build_report

    try:
        with log.stage("Report", "report") as stage:
            stage.extra["path"] = str(build_report(run_dir))
    except Exception as error:  # noqa: BLE001  (the stage line already names it)
        log.warning("Report not written: %s", error)


def run(options: RunOptions) -> int:
    """The whole run; returns an exit code (0 also when the run had already finished)."""
    from odhelper.engine import exporter

    from odhelper.pipeline import registry

    registry.get(options.model)  # unknown model: usage error before anything happens
    run_dir = options.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    log.setup(run_dir)
    started = time.perf_counter()
    log.info("Program start [ model : %s, num steps : %d ]", options.model, options.steps)
    settings.save_yaml(options, run_dir / "run.yaml")
    finished = _finished(options)
    if finished:
        log.info("Run %s already finished at step %d (--steps %d): nothing to train",
                 run_dir, latest_step(run_dir), options.steps)
    else:
        (run_dir / DONE).unlink(missing_ok=True)  # --steps grew: continue training
        if latest_step(run_dir):
            log.info("Continuing %s from step %d to %d", run_dir, latest_step(run_dir),
                     options.steps)
        dataset = _dataset(options)
        with log.stage("Create config", "config", model=options.model):
            configs = _configure(options, dataset)
        if not _train(options, configs):
            log.info("Worker done: the chief exports and reports")
            return 0
    exported = (run_dir / exporter.EXPORT / "saved_model").exists()
    if options.export and not (finished and exported):
        exporter.export(run_dir, tflite=options.tflite)
    if options.report and not (finished and (run_dir / "report.html").exists()):
        _report(run_dir)
    total = time.perf_counter() - started
    log.info("Program end [ Total time : %s ]", log.hms(total))
    log.record({"stage": "Program", "status": "success", "seconds": round(total, 3),
                "model": options.model, "num steps": options.steps})
    return 0

