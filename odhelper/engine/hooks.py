"""Hooks of the run: TensorBoard/log, inline evaluation, best checkpoint, patience."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from odhelper import files, log
from odhelper.engine.trainer import Hook, Trainer
from odhelper.rundir import CHECKPOINT_INDEX, RunDir


def clock(seconds: float) -> str:
    """H:MM:SS, for the time left."""
    whole = max(0, int(round(seconds)))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class TrainLogHook(Hook):
    """Losses, learning rate and steps/s to TensorBoard (RUN/train) and the log, with
    the time left to the next evaluation and to the last step; a progress bar on a
    terminal."""

    def __init__(self, run_dir: RunDir, every: int, eval_every: int | None = None):
        import tensorflow as tf

        self.every, self.eval_every = max(1, every), eval_every
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
        log.info("Step %d/%d loss %.4f lr %.6f %.2f steps/s%s", step, trainer.total_steps,
                 loss, learning_rate, rate, self._time_left(trainer, rate))
        self._bar.update(step - self._bar.n)
        self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def _time_left(self, trainer: Trainer, rate: float) -> str:
        """', eval in 0:01:10, done in 0:12:30' (training time only)."""
        if not rate:
            return ""
        step, left = trainer.step, ""
        if self.eval_every and trainer.next_boundary() < trainer.total_steps:
            left = f", eval in {clock((trainer.next_boundary() - step) / rate)}"
        return left + f", done in {clock((trainer.total_steps - step) / rate)}"

    def after_eval_period(self, trainer: Trainer) -> None:
        self._clock_step = None  # evaluation time is not training speed

    def after_train(self, trainer: Trainer) -> None:
        self.writer.flush()
        self._bar.close()


class EvalHook(Hook):
    """At each boundary: evaluate the in-memory model, log + record the metrics,
    keep the best checkpoint, count patience."""

    def __init__(self, run_dir: RunDir, evaluator, best: "BestKeeper", patience: int = 0):
        import tensorflow as tf

        self.evaluator, self.best, self.patience = evaluator, best, patience
        self.writer = tf.summary.create_file_writer(str(run_dir.eval_dir))
        self.evaluated_step = -1
        self.last_metrics: dict[str, float] = {}

    def after_eval_period(self, trainer: Trainer) -> None:
        step = trainer.step
        if step == self.evaluated_step:
            return
        metrics = evaluate_logged(self.evaluator, step, self.writer)
        self.evaluated_step, self.last_metrics = step, metrics
        improved = self.best.consider(step, metrics, trainer.setup.manager.latest_checkpoint)
        if self.patience and not improved and self.best.stale >= self.patience:
            trainer.stop_reason = (f"no improvement of {self.best.metric} in {self.patience} "
                                   f"evaluations (best {self.best.value:.4f} at step "
                                   f"{self.best.step})")
            log.info("Early stop: %s", trainer.stop_reason)


def evaluate_logged(evaluator, step: int, writer=None) -> dict[str, float]:
    """`Evaluate model start [ Step number : N ]` ... `Success [..metrics..]`."""
    with log.stage("Evaluate model", "evaluation", **{"Step number": step}) as stage:
        metrics = evaluator.evaluate(step, writer)
        stage.extra["step"] = step
        stage.extra.update({k: round(v, 6) for k, v in metrics.items()})
    return metrics


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
