"""The one estimator of the time a run still needs: the training steps left at the
measured rate, the evaluations still to come at the measured evaluation time, and
the export when an earlier one was timed. The step line shows it; a time budget
turns it around (how many steps fit).
"""
from __future__ import annotations

import math
from dataclasses import dataclass


def evaluations_left(step: int, total: int, eval_every: int | None) -> int:
    """Evaluations still to come after `step`: at every multiple of `eval_every` below
    `total`, and at `total` itself."""
    if step >= total:
        return 0
    if not eval_every:
        return 1
    return (total - 1) // eval_every - step // eval_every + 1


@dataclass
class TimeLeft:
    total_steps: int
    eval_every: int | None
    eval_seconds: float | None = None  # the last evaluation's time, once measured
    export_seconds: float | None = None  # an earlier export of this run, if timed

    def seconds(self, step: int, rate: float) -> float:
        """Time left after `step` at `rate` steps/s (what is not measured yet counts 0)."""
        left = (self.total_steps - step) / rate if rate else math.inf
        left += evaluations_left(step, self.total_steps, self.eval_every) * \
            (self.eval_seconds or 0.0)
        return left + (self.export_seconds or 0.0)

    def covers(self, step: int) -> str:
        """What `seconds` includes, in words."""
        parts = ["training"]
        evals = evaluations_left(step, self.total_steps, self.eval_every)
        if evals and self.eval_seconds is not None:
            parts.append(f"{evals} evaluation{'s' if evals > 1 else ''}")
        elif evals:
            parts.append("evaluations not timed yet")
        parts.append("export" if self.export_seconds is not None else "export not timed yet")
        return ", ".join(parts)

    def steps_that_fit(self, seconds: float, step: int, rate: float) -> int:
        """The largest total step count whose time left after `step` fits in
        `seconds`."""
        if rate <= 0:
            return step
        low, high = step, step + int(max(0.0, seconds) * rate) + 1
        while low < high:  # time left grows with the total: bisect
            middle = (low + high + 1) // 2
            trial = TimeLeft(middle, self.eval_every, self.eval_seconds, self.export_seconds)
            if trial.seconds(step, rate) <= seconds:
                low = middle
            else:
                high = middle - 1
        return low
