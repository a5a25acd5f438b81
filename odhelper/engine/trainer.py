"""The training loop: evaluation periods of `--eval-every` steps, loops of
`--steps-per-loop` steps inside one tf.function call, hooks after every loop and at
the end of every period (detectron2-style).

    trainer = Trainer(setup, total_steps, eval_every, hooks, steps_per_loop, save_every)
    trainer.train()

A loop never passes an evaluation, a `save_every` checkpoint or the last step.
"""
from __future__ import annotations

import math
import time
from typing import Sequence

from odhelper import log, signals
from odhelper.engine.builder import TrainingSetup, make_train_step
from odhelper.errors import OdhelperError


class TrainingDiverged(OdhelperError):
    """The loss became NaN or Inf."""


class Hook:
    """Override what you need; `trainer` gives access to the setup and state."""

    def before_train(self, trainer: "Trainer") -> None: ...
    def after_step(self, trainer: "Trainer", losses: dict[str, float]) -> None: ...
    def after_eval_period(self, trainer: "Trainer") -> None: ...
    def after_train(self, trainer: "Trainer") -> None: ...


class Trainer:
    def __init__(self, setup: TrainingSetup, total_steps: int, eval_every: int,
                 hooks: Sequence[Hook] = (), steps_per_loop: int = 1, save_every: int = 0):
        from odhelper.engine.distribute import several_workers, stop_together

        self.setup = setup
        self.total_steps, self.eval_every = total_steps, eval_every
        self.steps_per_loop, self.save_every = max(1, steps_per_loop), save_every
        # several workers stop together, at the end of a period (e.g. the chief's patience)
        self._agree = stop_together(setup.strategy) if several_workers(setup.strategy) else None
        self.hooks = list(hooks)
        self.stop_reason: str | None = None  # set by a hook to end training early
        self.error: BaseException | None = None  # what ended training abnormally
        self.last_losses: dict[str, float] = {}
        self.first_step_seconds: float | None = None  # includes tracing
        self._timed = [0, 0.0]  # steps, seconds after the first one
        self._step_fn = make_train_step(setup, loops=self.steps_per_loop > 1)
        self._iterator = None

    @property
    def step(self) -> int:
        return self.setup.step

    @property
    def steps_per_second(self) -> float:
        """Mean training speed, without the first (tracing) step and evaluations."""
        steps, seconds = self._timed
        return steps / seconds if seconds else 0.0

    def period_end(self, step: int) -> int:
        """The end of the evaluation period `step` lies in: the next multiple of
        eval_every, or the last step."""
        return min((step // self.eval_every + 1) * self.eval_every, self.total_steps)

    def next_boundary(self) -> int:
        return self.period_end(self.step)

    def loop_length(self, until: int) -> int:
        """Steps of the next loop: --steps-per-loop, cut at `until` and at the next
        checkpoint of `save_every`."""
        steps = min(self.steps_per_loop, until - self.step)
        if self.save_every:
            steps = min(steps, self.save_every - self.step % self.save_every)
        return steps

    def run_steps(self, until: int | None = None) -> None:
        """Train up to global step `until`, calling after_step hooks after each loop.
        Without `until`: to the end of the current period, which follows a hook that
        refits the total or the cadence (--time)."""
        import tensorflow as tf

        if self._iterator is None:
            self._iterator = iter(self.setup.train_input)
        start = self.step
        end = self.period_end(start) if until is None else until
        while self.step < end:
            steps = self.loop_length(end)
            started = time.perf_counter()
            losses = self._step_fn(self._iterator, tf.constant(steps))
            values = {key: float(value) for key, value in losses.items()}
            seconds = time.perf_counter() - started
            if self.first_step_seconds is None:
                self.first_step_seconds = seconds
                self.setup.check_restored()
            else:
                self._timed[0] += steps
                self._timed[1] += seconds
            self.last_losses = values
            for hook in self.hooks:
                hook.after_step(self, values)
            if until is not None:
                end = min(until, self.next_boundary())
            else:  # a cadence set below this step (the budget's first estimate): the next one
                end = self.period_end(start)
                end = end if end >= self.step else self.next_boundary()

    def train(self) -> int:
        """Train to `total_steps` (or until a hook stops it); return the final step."""
        for hook in self.hooks:
            hook.before_train(self)
        try:
            while self.step < self.total_steps and self.stop_reason is None:
                self.run_steps()
                for hook in self.hooks:
                    hook.after_eval_period(self)
                if self._agree:
                    self.stop_reason = self._agree(self.stop_reason)
        except BaseException as exc:
            self.error = signals.stop_behind(exc) or exc  # a stop, even inside an error
            raise self.error
        finally:
            for hook in self.hooks:
                hook.after_train(self)
        return self.step


class NanGuard(Hook):
    """Stop with an explanation at the first non-finite loss."""

    def after_step(self, trainer: Trainer, losses: dict[str, float]) -> None:
        bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
        if bad:
            names = ", ".join(f"{k}={v}" for k, v in bad.items())
            raise TrainingDiverged(
                f"training diverged at step {trainer.step}: {names}. Likely cause: the "
                "learning rate is too high for this batch size or for training from scratch "
                "(try --set learning_rate=<10x lower>, a larger --batch-size, or a zoo "
                "checkpoint); otherwise boxes with zero width/height in the data")


class CheckpointHook(Hook):
    """Save RUN/checkpoints/ckpt-<step> every `every` steps (0: only at the end of
    each evaluation period), at the end of every evaluation period and at the end."""

    def __init__(self, every: int = 0):
        self.every, self.saved_step = every, -1

    def before_train(self, trainer: Trainer) -> None:
        # The starting step is on disk already (or is step 0, nothing learnt). Saving it
        # again before a step is taken would write a resumed run's checkpoint without its
        # model and optimizer, whose restore waits for the first step (builder._restore).
        self.saved_step = trainer.step

    def save(self, trainer: Trainer) -> None:
        if trainer.step != self.saved_step:
            trainer.setup.manager.save(checkpoint_number=trainer.step)
            self.saved_step = trainer.step

    def after_step(self, trainer: Trainer, losses: dict[str, float]) -> None:
        if self.every and trainer.step % self.every == 0:
            self.save(trainer)

    def after_eval_period(self, trainer: Trainer) -> None:
        self.save(trainer)

    def after_train(self, trainer: Trainer) -> None:
        """Also on Ctrl-C or SIGTERM (resume later), never after a failure such as NaN
        weights."""
        if trainer.error is None:
            self.save(trainer)
        elif isinstance(trainer.error, KeyboardInterrupt):
            with signals.held_off():
                self.save(trainer)
            log.warning("stopped by %s at step %d, checkpoint saved, re-run the same command "
                        "to resume", signals.how_stopped(trainer.error), trainer.step)
