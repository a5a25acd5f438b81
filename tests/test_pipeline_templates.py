"""Every template (besides ssd_mobilenet_v2, trained in test_run_train.py) fills,
builds through the OD API and takes one real training step on real records."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from run_support import make_dataset

pytestmark = pytest.mark.slow

# (model, image-size overrides): tiny sizes keep the step cheap on a CPU
CASES = {
    "ssd_mobilenet_v2_fpnlite": ["model.ssd.image_resizer.fixed_shape_resizer.height=64",
                                 "model.ssd.image_resizer.fixed_shape_resizer.width=64"],
    "efficientdet_d0": ["model.ssd.image_resizer.keep_aspect_ratio_resizer.min_dimension=256",
                        "model.ssd.image_resizer.keep_aspect_ratio_resizer.max_dimension=256"],
    "faster_rcnn_resnet50": [
        "model.faster_rcnn.image_resizer.keep_aspect_ratio_resizer.min_dimension=128",
        "model.faster_rcnn.image_resizer.keep_aspect_ratio_resizer.max_dimension=128"],
    "ssd_mobilenet_v2_cpu": ["model.ssd.image_resizer.fixed_shape_resizer.height=64",
                             "model.ssd.image_resizer.fixed_shape_resizer.width=64"],
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("templates"), count=6)


@pytest.mark.parametrize("model", list(CASES))
def test_template_builds_and_takes_a_step(model, dataset, tmp_path):
    from odhelper.engine.builder import build_training
    from odhelper.rundir import RunDir
    from odhelper.engine.distribute import make_strategy
    from odhelper.engine.trainer import CheckpointHook, NanGuard, Trainer
    from odhelper.pipeline import config

    configs = config.fill(config.FillRequest(model, dataset, steps=1, batch_size=1,
                                             overrides=CASES[model]))
    setup = build_training(configs, RunDir(tmp_path), make_strategy("default"))
    trainer = Trainer(setup, total_steps=1, eval_every=1, hooks=[NanGuard(), CheckpointHook()])
    assert trainer.train() == 1
    assert math.isfinite(trainer.last_losses["Loss/total_loss"])
    assert (tmp_path / "checkpoints" / "ckpt-1.index").exists()


def test_a_total_moved_during_a_period_moves_its_end(dataset, tmp_path):
    """`run --time` refits the total while training: a period that was to end at the old
    total ends at the new one, so no evaluation lands on a step that is not a boundary."""
    from odhelper.engine.builder import build_training
    from odhelper.engine.distribute import make_strategy
    from odhelper.engine.trainer import Hook, Trainer
    from odhelper.pipeline import config
    from odhelper.rundir import RunDir

    class Refit(Hook):
        def __init__(self, at: int, total: int):
            self.at, self.total, self.ends = at, total, []

        def after_step(self, trainer, losses):
            if trainer.step == self.at:
                trainer.total_steps = self.total

        def after_eval_period(self, trainer):
            self.ends.append(trainer.step)

    configs = config.fill(config.FillRequest("ssd_mobilenet_v2_cpu", dataset, steps=3,
                                             batch_size=1,
                                             overrides=CASES["ssd_mobilenet_v2_cpu"]))
    setup = build_training(configs, RunDir(tmp_path), make_strategy("default"))
    longer, shorter = Refit(at=2, total=5), Refit(at=6, total=7)
    assert Trainer(setup, total_steps=3, eval_every=100, hooks=[longer]).train() == 5
    assert longer.ends == [5]
    assert Trainer(setup, total_steps=20, eval_every=100, hooks=[shorter]).train() == 7
    assert shorter.ends == [7]
    steady = Refit(at=0, total=0)  # no refit: every period ends at its boundary
    assert Trainer(setup, total_steps=11, eval_every=2, hooks=[steady]).train() == 11
    assert steady.ends == [8, 10, 11]
