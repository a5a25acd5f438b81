"""`run --time`: train as many steps as fit in a time budget.

The total steps are not known when the train step is traced, so the learning rate of a
budgeted run is a cosine schedule (warm-up and hold as the config says) that reads its
total from a variable (the OD API's own schedule captures the total as a constant). The
TimeBudget hook measures the step rate once warm, then at each evaluation the time an
evaluation takes, and sets the total steps, the evaluation cadence and that variable so
that training, the evaluations, export and the report end within the budget.
"""
from __future__ import annotations

import math
import time

from odhelper import log
from odhelper.constants import UNSET_STEPS
from odhelper.engine.trainer import Hook, Trainer

REFIT_SECONDS = 30.0  # between estimates of the steps left, evaluations or not
EVALUATIONS = 5  # evaluations of a budgeted run, the last at its end (unless --eval-every)
WARM_STEPS, WARM_SECONDS = 10, 10.0  # timed before the first estimate


class BudgetSchedule:
    """The config's cosine_decay_learning_rate, its total read from a variable."""

    def __init__(self, global_step, cosine_config, total_steps: int):
        import tensorflow as tf

        self.global_step = global_step
        self.base = cosine_config.learning_rate_base
        self.warmup_rate = cosine_config.warmup_learning_rate
        self.warmup = float(cosine_config.warmup_steps)
        self.hold = float(cosine_config.hold_base_rate_steps)
        self.total = tf.Variable(float(total_steps), trainable=False, name="budget_total_steps")
        self.warmup_steps = tf.Variable(self.warmup, trainable=False, name="budget_warmup")

    def fit(self, total: int, warmup: int) -> None:
        """The schedule's length (and the warm-up, shortened when it no longer fits)."""
        self.total.assign(float(total))
        self.warmup_steps.assign(float(min(self.warmup, warmup)))

    def __call__(self):
        import tensorflow as tf

        step = tf.cast(self.global_step, tf.float32)
        warmup = self.warmup_steps
        flat = warmup + self.hold
        span = tf.maximum(self.total - flat, 1.0)
        rate = 0.5 * self.base * (1.0 + tf.cos(math.pi * (step - flat) / span))
        if self.hold > 0:
            rate = tf.where(step > flat, rate, self.base)
        if self.warmup > 0:
            slope = (self.base - self.warmup_rate) / tf.maximum(warmup, 1.0)
            rate = tf.where(step < warmup, self.warmup_rate + slope * step, rate)
        return tf.where(step > self.total, 0.0, rate)


def budget_schedule(optimizer, optimizer_config, global_step) -> BudgetSchedule | None:
    """Put a BudgetSchedule in place of `optimizer`'s learning rate (None: the config's
    schedule is not a cosine one, and stays as it is)."""
    kind = optimizer_config.WhichOneof("optimizer")
    learning_rate = getattr(optimizer_config, kind).learning_rate
    if learning_rate.WhichOneof("learning_rate") != "cosine_decay_learning_rate":
        log.warning("--time: the %s learning-rate schedule keeps its own length (only a "
                    "cosine schedule is fitted to the budget)",
                    learning_rate.WhichOneof("learning_rate"))
        return None
    schedule = BudgetSchedule(global_step, learning_rate.cosine_decay_learning_rate,
                              UNSET_STEPS)
    optimizer.learning_rate = schedule
    return schedule


class TimeBudget(Hook):
    """Fit the total steps (and the evaluation cadence and the schedule) to the time
    left until `deadline` (a time.monotonic() value), keeping `reserve` seconds for export
    and the report; `record(total, eval_every)` writes each new total down and returns the
    warm-up steps the recorded schedule keeps."""

    def __init__(self, deadline: float, reserve: float, schedule: BudgetSchedule | None,
                 eval_seconds: float, fixed_cadence: bool, record):
        self.deadline, self.reserve, self.schedule = deadline, reserve, schedule
        self.eval_seconds, self.fixed_cadence, self.record = eval_seconds, fixed_cadence, record
        self.estimated = self.eval_timed = self.recorded = False
        self._period_end = self._fitted_at = None

    def after_step(self, trainer: Trainer, losses: dict[str, float]) -> None:
        self._period_end = time.monotonic()
        steps, seconds = trainer._timed  # noqa: SLF001 - the trainer's own step timing
        if not self.estimated and steps >= WARM_STEPS and seconds >= WARM_SECONDS:
            self.estimated, self._fitted_at = True, self._period_end
            self._fit(trainer, "first estimate")
        elif self.estimated and self._period_end - self._fitted_at >= REFIT_SECONDS:
            self._fitted_at = self._period_end  # the machine's pace changes: a busy neighbour
            self._fit(trainer, "re-estimated")

    def after_eval_period(self, trainer: Trainer) -> None:
        if self._period_end is not None and trainer.step < trainer.total_steps:
            self.eval_seconds = time.monotonic() - self._period_end  # checkpoint + evaluation
            self.eval_timed = True
            self._fit(trainer, "re-estimated after an evaluation")

    def _fit(self, trainer: Trainer, why: str) -> None:
        rate = trainer.steps_per_second
        if not rate:
            return
        if not self.eval_timed:  # the first evaluation traces its function, as step 1 did
            self.eval_seconds = max(self.eval_seconds, 0.5 * (trainer.first_step_seconds or 0))
        left = self.deadline - time.monotonic() - self.reserve
        if left < self.eval_seconds:
            log.warning("Time budget: start-up and training so far leave %.0f s of the budget, "
                        "less than an evaluation (~%.0f s) plus export and the report (%.0f "
                        "s): training stops at step %d. A longer --time trains more", max(
                            0.0, left + self.reserve), self.eval_seconds, self.reserve,
                        trainer.step)
        if not self.fixed_cadence:  # the first estimate: EVALUATIONS from step 0 to the end
            steps = trainer.step + max(0.0, left - EVALUATIONS * self.eval_seconds) * rate
            trainer.eval_every = max(1, math.ceil(max(steps, trainer.step + 1) / EVALUATIONS))
            self.fixed_cadence = True
        per_step = 1 / rate + self.eval_seconds / trainer.eval_every
        total = trainer.step + int(max(0.0, left - self.eval_seconds) / per_step)  # + the last
        said = abs(total - trainer.total_steps) > max(1, 0.02 * trainer.total_steps)
        if total == trainer.total_steps and self.recorded:
            return
        trainer.total_steps = total
        warmup = self.record(total, trainer.eval_every)
        if self.schedule is not None:
            self.schedule.fit(total, warmup)
        if said or not self.recorded:
            log.info("Time budget (%s): %d steps in all, evaluation every %d (%.2f steps/s, "
                     "evaluations of ~%.0f s, %.0f s kept for export and the report; %.0f s "
                     "left)", why, total, trainer.eval_every, rate, self.eval_seconds,
                     self.reserve, self.deadline - time.monotonic())
        self.recorded = True
