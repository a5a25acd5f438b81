"""--eval-mode sidecar: a second process, on the CPU, evaluates each new checkpoint
of RUN/checkpoints while training continues (for users whose GPU is busy).

    python -m odhelper.engine.sidecar RUN_DIR BEST_METRIC PARENT_PID
It stops once the trainer asks it to (RunDir.sidecar_stop) and the last
checkpoint is evaluated, or as soon as its parent process is gone: it polls the
parent between evaluations and, on Linux, the kernel also ends it when the parent
dies (signals.die_with_parent), even in the middle of an evaluation. Signals are
handled as everywhere (odhelper/signals.py): a SIGTERM to the training process
stops training as Ctrl-C does (checkpoint saved, exit 143) and ends the sidecar.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from odhelper import log, signals
from odhelper.engine.trainer import Hook
from odhelper.errors import OdhelperError
from odhelper.rundir import RunDir

POLL_SECONDS = 2.0


class SidecarHook(Hook):
    """Starts the sidecar before training; tells it to finish and waits after."""

    def __init__(self, run_dir: RunDir, best_metric: str):
        self.run_dir, self.best_metric, self.process = run_dir, best_metric, None

    def before_train(self, trainer) -> None:
        self.run_dir.sidecar_stop.unlink(missing_ok=True)
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
        with signals.deferred():  # a stop signal during the start waits for its end
            self.process = subprocess.Popen(
                [sys.executable, "-m", "odhelper.engine.sidecar", str(self.run_dir.root),
                 self.best_metric, str(os.getpid())], env=env)
        log.info("Evaluation sidecar started (pid %d)", self.process.pid)

    def after_train(self, trainer) -> None:
        if self.process is None:
            return
        try:
            if trainer.error is None:  # let it evaluate the last checkpoint
                self.run_dir.sidecar_stop.write_text(str(trainer.step))
                code = self.process.wait()
                log.info("Evaluation sidecar finished (exit %d)", code)
        finally:
            self._end()

    def _end(self) -> None:
        """Stop the sidecar if it still runs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            log.info("Evaluation sidecar stopped")


def _checkpoints(run_dir: RunDir) -> list[str]:
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(run_dir.checkpoints))
    return list(state.all_model_checkpoint_paths) if state else []


def serve(run_dir: RunDir, metric: str, parent: int | None = None) -> int:
    """Poll checkpoints; evaluate each new one (the newest first when behind)."""
    import tensorflow as tf

    from odhelper.engine.evaluator import Evaluator
    from odhelper.engine.hooks import BestKeeper, evaluate_logged, keep_detections
    from odhelper.engine.restore import inference_model
    from odhelper.pipeline import config

    configs = config.load(run_dir.pipeline_config)
    model = inference_model(configs)
    evaluator = Evaluator(model.model, configs)
    writer = tf.summary.create_file_writer(str(run_dir.eval_dir))
    best, done = BestKeeper(run_dir, metric), {r.get("checkpoint") for r in
                                               run_dir.history.records()}
    while parent is None or os.getppid() == parent:
        stopping = run_dir.sidecar_stop.exists()
        pending = [p for p in _checkpoints(run_dir) if Path(p).name not in done]
        if pending:
            path = pending[-1]
            done.update(Path(p).name for p in pending)
            try:
                step = model.restore(path)
            except (tf.errors.OpError, ValueError, OSError, OdhelperError) as error:  # deleted
                log.warning("Sidecar: %s is gone (%s); waiting for the next one", path,
                            type(error).__name__)
                continue
            metrics = evaluate_logged(evaluator, step, run_dir, path, writer)
            best.consider(step, metrics, path)
            keep_detections(run_dir, {step, best.step})
        elif stopping:
            return 0
        else:
            time.sleep(POLL_SECONDS)
    log.warning("Sidecar: the training process %d is gone; stopping", parent)
    return 1


if __name__ == "__main__":
    if len(sys.argv) > 3:
        signals.die_with_parent(int(sys.argv[3]))
    log.setup()
    with log.to_dir(sys.argv[1]):
        sys.exit(serve(RunDir(Path(sys.argv[1])), sys.argv[2],
                       int(sys.argv[3]) if len(sys.argv) > 3 else None))
