"""Hooks of the run: TensorBoard/log, inline evaluation, best checkpoint, patience."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from odhelper import files, log
from odhelper.engine.trainer import Hook, Trainer

BEST = "best"


class TrainLogHook(Hook):
    """Losses, learning rate and steps/s to TensorBoard (RUN/train) and the log."""

    def __init__(self, run_dir: Path, every: int):
        import tensorflow as tf

        self.every = max(1, every)
        self.writer = tf.summary.create_file_writer(str(Path(run_dir) / "train"))
        self._clock, self._clock_step = time.perf_counter(), None

    def after_step(self, trainer: Trainer, losses: dict[str, float]) -> None:
        import tensorflow as tf

        step = trainer.step
        if self._clock_step is None:  # first step includes tracing: do not time it
            self._clock, self._clock_step = time.perf_counter(), step
        if step % self.every and step != trainer.total_steps:
            return
        elapsed = time.perf_counter() - self._clock
        rate = (step - self._clock_step) / elapsed if elapsed > 0 and step > self._clock_step \
            else 0.0
        self._clock, self._clock_step = time.perf_counter(), step
        learning_rate = float(trainer.session.learning_rate())
        with self.writer.as_default():
            for key, value in losses.items():
                tf.summary.scalar(key, value, step=step)
            tf.summary.scalar("learning_rate", learning_rate, step=step)
            if rate:
                tf.summary.scalar("steps_per_sec", rate, step=step)
        log.info("Step %d/%d loss %.4f lr %.6f %.2f steps/s", step, trainer.total_steps,
                 losses.get("Loss/total_loss", float("nan")), learning_rate, rate)

    def after_chunk(self, trainer: Trainer) -> None:
        self._clock_step = None  # evaluation time is not training speed

    def after_train(self, trainer: Trainer) -> None:
        self.writer.flush()


class EvalHook(Hook):
    """At each boundary: evaluate the in-memory model, log + record the metrics,
    keep the best checkpoint, count patience."""

    def __init__(self, run_dir: Path, evaluator, best: "BestKeeper", patience: int = 0):
        import tensorflow as tf

        self.run_dir, self.evaluator, self.best, self.patience = run_dir, evaluator, best, patience
        self.writer = tf.summary.create_file_writer(str(Path(run_dir) / "eval"))
        self.evaluated_step = -1

    def after_chunk(self, trainer: Trainer) -> None:
        step = trainer.step
        if step == self.evaluated_step:
            return
        metrics = evaluate_logged(self.evaluator, step, self.writer)
        self.evaluated_step = step
        improved = self.best.consider(step, metrics, trainer.session.manager.latest_checkpoint)
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

    def __init__(self, run_dir: Path, metric: str):
        self.dir = Path(run_dir) / BEST
        self.stale_file = Path(run_dir) / "eval" / "stale.json"  # survives a resume
        self.metric, self.stale = metric, 0
        self.value, self.step = float("-inf"), None
        record = self.dir / "best.json"
        if record.exists():
            saved = json.loads(record.read_text())
            self.value, self.step = saved["value"], saved["step"]
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
        self.value, self.step = value, step
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
            (tmp / "checkpoint").write_text(
                f'model_checkpoint_path: "{source.name}"\n'
                f'all_model_checkpoint_paths: "{source.name}"\n')
            (tmp / "best.json").write_text(json.dumps(record, indent=2) + "\n")
