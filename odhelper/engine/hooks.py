"""Hooks of the run: TensorBoard/log, inline evaluation, best checkpoint, patience."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from odhelper import files, log
from odhelper.constants import COCO_MAP, PASCAL_MAP50, UNSET_STEPS
from odhelper.engine.eta import TimeLeft
from odhelper.engine.trainer import Hook, Trainer
from odhelper.checkpoints import CHECKPOINT_INDEX
from odhelper.rundir import RunDir


def clock(seconds: float) -> str:
    """H:MM:SS, for the time left."""
    whole = max(0, int(round(seconds)))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class TrainLogHook(Hook):
    """Losses, learning rate and steps/s to TensorBoard (RUN/train) and the log, with
    the time left to the next evaluation and to the last step; a progress bar on a
    terminal."""

    def __init__(self, run_dir: RunDir, every: int, eval_every: int | None = None,
                 export_seconds: float | None = None, epoch_steps: float | None = None):
        import tensorflow as tf

        self.every, self.eval_every = max(1, every), eval_every
        self.epoch_steps = epoch_steps  # steps of one pass over the training records
        self.run_dir, self.export_seconds = run_dir, export_seconds
        self.writer = tf.summary.create_file_writer(str(run_dir.train_events))
        self._clock, self._clock_step = time.perf_counter(), None
        self._bar = None
        self._logged = 0

    def before_train(self, trainer: Trainer) -> None:
        self._logged = trainer.step
        self._bar = log.progress(total=trainer.total_steps, initial=trainer.step,
                                 desc="train", unit="step")

    def after_step(self, trainer: Trainer, losses: dict[str, float]) -> None:
        import tensorflow as tf

        step = trainer.step
        if self._clock_step is None:  # first step includes tracing: do not time it
            self._clock, self._clock_step = time.perf_counter(), step
        crossed = step // self.every > self._logged // self.every
        if not crossed and step != trainer.total_steps:  # loops of K steps may skip multiples
            return
        self._logged = step
        elapsed = time.perf_counter() - self._clock
        rate = (step - self._clock_step) / elapsed if elapsed > 0 and step > self._clock_step \
            else 0.0
        self._clock, self._clock_step = time.perf_counter(), step
        learning_rate = float(trainer.setup.learning_rate())
        with self.writer.as_default():
            for key, value in losses.items():
                tf.summary.scalar(key, value, step=step)
            tf.summary.scalar("learning_rate", learning_rate, step=step)
            if rate:
                tf.summary.scalar("steps_per_sec", rate, step=step)
        loss = losses.get("Loss/total_loss", float("nan"))
        epoch = "" if not self.epoch_steps else \
            f" (epoch {step / self.epoch_steps:.1f}/{trainer.total_steps / self.epoch_steps:.1f})"
        unknown = trainer.total_steps >= UNSET_STEPS  # `run --time` before its estimate
        log.info("Step %d/%s%s loss %.4f lr %.6f %.2f steps/s%s", step,
                 "?" if unknown else trainer.total_steps, "" if unknown else epoch, loss,
                 learning_rate, rate, "" if unknown else self._time_left(trainer, rate))
        if self._bar.total != trainer.total_steps and not unknown:
            self._bar.total = trainer.total_steps
        self._bar.update(step - self._bar.n)
        self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def _time_left(self, trainer: Trainer, rate: float) -> str:
        """', eval in 0:01:10, time left 0:12:30 (training, 3 evaluations, export)'."""
        if not rate:
            return ""
        step, left = trainer.step, ""
        if self.eval_every and trainer.next_boundary() < trainer.total_steps:
            left = f", eval in {clock((trainer.next_boundary() - step) / rate)}"
        last = self.run_dir.history.latest()
        estimate = TimeLeft(trainer.total_steps, self.eval_every,
                            last.get("seconds") if last else None, self.export_seconds)
        return left + f", time left {clock(estimate.seconds(step, rate))} " \
            f"({estimate.covers(step)})"

    def after_eval_period(self, trainer: Trainer) -> None:
        self._clock_step = None  # evaluation time is not training speed

    def after_train(self, trainer: Trainer) -> None:
        self.writer.flush()
        self._bar.close()


class EvalHook(Hook):
    """At each boundary: evaluate the in-memory model, log + record the metrics,
    keep the best checkpoint, count patience. The last checkpoint is evaluated when
    training ends, whatever ended it but a failure or a stop signal (a resumed run
    that had nothing left to train included)."""

    def __init__(self, run_dir: RunDir, evaluator, best: "BestKeeper", patience: int = 0):
        import tensorflow as tf

        self.run_dir, self.evaluator, self.best, self.patience = run_dir, evaluator, best, \
            patience
        self.writer = tf.summary.create_file_writer(str(run_dir.eval_dir))
        self.last_metrics: dict[str, float] = {}

    def _evaluate(self, trainer: Trainer) -> bool:
        """Evaluate the newest checkpoint unless the history has it; whether it improved."""
        step, checkpoint = trainer.step, trainer.setup.manager.latest_checkpoint
        evaluated = self.run_dir.history.at(step)
        if evaluated is not None:
            self.last_metrics = evaluated["metrics"]
            return False
        metrics = evaluate_logged(self.evaluator, step, self.run_dir, checkpoint, self.writer)
        self.last_metrics = metrics
        improved = self.best.consider(step, metrics, checkpoint)
        keep_detections(self.run_dir, {step, self.best.step})
        return improved

    def after_eval_period(self, trainer: Trainer) -> None:
        improved = self._evaluate(trainer)
        if self.patience and not improved and self.best.stale >= self.patience:
            trainer.stop_reason = (f"no improvement of {self.best.metric} in {self.patience} "
                                   f"evaluations (best {self.best.value:.4f} at step "
                                   f"{self.best.step})")
            log.info("Early stop: %s", trainer.stop_reason)

    def after_train(self, trainer: Trainer) -> None:
        if trainer.error is None and trainer.setup.manager.latest_checkpoint:
            self._evaluate(trainer)  # the checkpoint CheckpointHook saved at the end


def evaluate_logged(evaluator, step: int, run_dir: RunDir, checkpoint: str | None,
                    writer=None) -> dict[str, float]:
    """`Evaluate model start [ Step number : N ]` ... `Success [..metrics..]`; the
    evaluation goes into the run's history, its per-picture results beside it."""
    from odhelper.metrics import stored

    with log.stage("Evaluate model", "evaluation", **{"Step number": step}) as stage:
        clock = time.perf_counter()
        scored = evaluator.evaluate(step, writer)
        seconds = time.perf_counter() - clock
        stored.save(scored.results, run_dir.evaluation().detections(step), step=step,
                    checkpoint=str(checkpoint or ""), records="\n".join(scored.files))
        stage.extra["step"] = step
        stage.extra.update({_short(k): round(scored.metrics[k], 4) for k in HEADLINE
                            if k in scored.metrics})
        stage.recorded.update({k: round(v, 6) for k, v in scored.metrics.items()})
    run_dir.history.append(step, scored.metrics, checkpoint, seconds)
    return scored.metrics


HEADLINE = (PASCAL_MAP50, COCO_MAP, "Loss/total_loss")


def _short(metric: str) -> str:
    return {PASCAL_MAP50: "mAP@0.5", COCO_MAP: "COCO mAP", "Loss/total_loss": "val loss"}.get(
        metric, metric)


def keep_detections(run_dir: RunDir, steps: set) -> None:
    """Remove the stored per-picture results of evaluations other than `steps`."""
    folder = run_dir.evaluation().detections_dir
    keep = {run_dir.evaluation().detections(s).name for s in steps if s is not None}
    for path in folder.glob("step-*.npz") if folder.is_dir() else []:
        if path.name not in keep:
            path.unlink(missing_ok=True)


class BestKeeper:
    """Copies the checkpoint with the best `metric` into RUN/best/ (higher is better)."""

    def __init__(self, run_dir: RunDir, metric: str):
        self.dir, self.record = run_dir.best, run_dir.best_record
        self.stale_file = run_dir.stale_record  # survives a resume
        self.metric, self.stale = metric, 0
        self.value, self.step = float("-inf"), None
        self.metrics: dict[str, float] = {}
        record = self.record
        if record.exists():
            saved = json.loads(record.read_text())
            self.value, self.step = saved["value"], saved["step"]
            self.metrics = saved.get("metrics", {})
        if self.stale_file.exists():
            saved = json.loads(self.stale_file.read_text())
            self.stale = saved["stale"] if saved.get("best_step") == self.step else 0

    def _count_stale(self, stale: int) -> None:
        self.stale = stale
        files.write_json(self.stale_file, {"stale": stale, "best_step": self.step})

    def consider(self, step: int, metrics: dict[str, float], checkpoint: str | None) -> bool:
        if self.metric not in metrics:
            log.warning("best metric %s not among the metrics (%s); best/ not updated",
                        self.metric, ", ".join(sorted(metrics)[:6]))
            return False
        value = metrics[self.metric]
        if value <= self.value or checkpoint is None:
            self._count_stale(self.stale + 1)
            return False
        self.value, self.step, self.metrics = value, step, metrics
        self._count_stale(0)
        self._copy(checkpoint, {"metric": self.metric, "value": value, "step": step,
                                "checkpoint": Path(checkpoint).name, "metrics": metrics})
        log.info("New best %s %.4f at step %d -> %s", self.metric, value, step, self.dir)
        return True

    def _copy(self, checkpoint: str, record: dict) -> None:
        source = Path(checkpoint)
        with files.atomic_dir(self.dir) as tmp:
            for part in source.parent.glob(source.name + ".*"):
                shutil.copy2(part, tmp / part.name)
            (tmp / CHECKPOINT_INDEX).write_text(
                f'model_checkpoint_path: "{source.name}"\n'
                f'all_model_checkpoint_paths: "{source.name}"\n')
            (tmp / self.record.name).write_text(json.dumps(record, indent=2) + "\n")
