"""--eval-mode sidecar: a second process, on the CPU, evaluates each new checkpoint
of RUN/checkpoints while training continues (for users whose GPU is busy).

    python -m odhelper.engine.sidecar RUN_DIR
It stops once RUN/train_done.json exists and the last checkpoint is evaluated.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from odhelper import log
from odhelper.engine.trainer import Hook

STOP_FILE = "sidecar.stop"
POLL_SECONDS = 2.0


class SidecarHook(Hook):
    """Starts the sidecar before training; tells it to finish and waits after."""

    def __init__(self, options):
        self.options, self.process = options, None

    def before_train(self, trainer) -> None:
        run_dir = Path(self.options.run_dir)
        (run_dir / STOP_FILE).unlink(missing_ok=True)
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "odhelper.engine.sidecar", str(run_dir),
             self.options.best_metric], env=env)
        log.info("Evaluation sidecar started (pid %d)", self.process.pid)

    def after_train(self, trainer) -> None:
        if self.process is None:
            return
        (Path(self.options.run_dir) / STOP_FILE).write_text(str(trainer.step))
        code = self.process.wait()
        log.info("Evaluation sidecar finished (exit %d)", code)


def _checkpoints(run_dir: Path) -> list[str]:
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(run_dir / "checkpoints"))
    return list(state.all_model_checkpoint_paths) if state else []


def serve(run_dir: Path, metric: str) -> int:
    """Poll checkpoints; evaluate each new one (the newest first when behind)."""
    import tensorflow as tf

    from odhelper.engine.evaluator import Evaluator
    from odhelper.engine.hooks import BestKeeper, evaluate_logged
    from odhelper.od import api
    from odhelper.pipeline import config

    log.setup(run_dir)
    configs = config.load(run_dir / "pipeline.config")
    model = api().model_builder.build(configs["model"], is_training=False)
    step = tf.Variable(0, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(model=model, step=step)
    evaluator = Evaluator(model, configs)
    writer = tf.summary.create_file_writer(str(run_dir / "eval"))
    best, done = BestKeeper(run_dir, metric), set()
    while True:
        stopping = (run_dir / STOP_FILE).exists()
        pending = [p for p in _checkpoints(run_dir) if p not in done]
        if pending:
            path = pending[-1]
            done.update(pending)
            try:
                checkpoint.restore(path).expect_partial()
            except (tf.errors.OpError, ValueError) as error:  # deleted by the trainer
                log.warning("Sidecar: %s is gone (%s); waiting for the next one", path,
                            type(error).__name__)
                continue
            metrics = evaluate_logged(evaluator, int(step.numpy()), writer)
            best.consider(int(step.numpy()), metrics, path)
        elif stopping:
            return 0
        else:
            time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    sys.exit(serve(Path(sys.argv[1]), sys.argv[2]))
