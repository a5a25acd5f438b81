"""`odhelper config`: every template fills through config_util; overrides; errors."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from odhelper import cli
from odhelper.errors import OdhelperError, UsageError
from odhelper.pipeline import config, registry
from run_support import make_dataset

TEMPLATES = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
             for path in registry.PIPELINES.glob("*.config")}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("config"), count=9)


@pytest.mark.parametrize("model", list(registry.MODELS))
def test_every_template_fills(model, dataset, tmp_path):
    spec = registry.get(model)
    configs = config.fill(config.FillRequest(model, dataset, steps=500, batch_size=3))
    path = config.write(configs, tmp_path / "pipeline.config")
    again = config.load(path)
    arch = again["model"].WhichOneof("model")
    assert arch == spec.meta_architecture
    assert getattr(again["model"], arch).num_classes == 2
    train = again["train_config"]
    assert train.num_steps == 500 and train.batch_size == 3
    assert train.fine_tune_checkpoint == "" and not train.use_bfloat16
    schedule = train.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate \
        if train.optimizer.WhichOneof("optimizer") == "momentum_optimizer" else None
    if schedule is not None:
        assert schedule.total_steps == 500 and schedule.warmup_steps < 500
    assert list(again["eval_config"].metrics_set) == ["coco_detection_metrics",
                                                      "pascal_voc_detection_metrics"]
    assert again["eval_config"].include_metrics_per_category
    assert again["eval_config"].num_examples == 3  # validate images in dataset.json
    train_glob = again["train_input_config"].tf_record_input_reader.input_path[0]
    assert Path(train_glob).exists() and Path(train_glob).name.startswith("train-")
    eval_input = again["eval_input_configs"][0]
    assert Path(eval_input.tf_record_input_reader.input_path[0]).name.startswith("validate-")
    assert eval_input.label_map_path == str((dataset / "label_map.pbtxt").resolve())


def test_checkpoint_and_overrides(dataset):
    configs = config.fill(config.FillRequest(
        "efficientdet_d0", dataset, steps=40, checkpoint="/zoo/checkpoint/ckpt-0",
        overrides=["model.ssd.image_resizer.keep_aspect_ratio_resizer.max_dimension=128",
                   "model.ssd.image_resizer.keep_aspect_ratio_resizer.min_dimension=128",
                   "learning_rate=0.004", "train_config.gradient_clipping_by_norm=10",
                   "model.ssd.feature_extractor.conv_hyperparams.activation=RELU_6"]))
    train = configs["train_config"]
    assert train.fine_tune_checkpoint == "/zoo/checkpoint/ckpt-0"
    assert train.fine_tune_checkpoint_type == "detection"
    assert train.gradient_clipping_by_norm == 10.0
    cosine = train.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate
    assert cosine.learning_rate_base == pytest.approx(0.004)
    crop = [o for o in train.data_augmentation_options
            if o.WhichOneof("preprocessing_step") == "random_scale_crop_and_pad_to_square"]
    assert crop[0].random_scale_crop_and_pad_to_square.output_size == 128


def test_batch_size_scales_the_learning_rate_and_steps_the_schedule(dataset):
    def cosine(configs):
        optimizer = configs["train_config"].optimizer
        kind = optimizer.WhichOneof("optimizer")
        return getattr(optimizer, kind).learning_rate.cosine_decay_learning_rate

    template = config.fill(config.FillRequest("ssd_mobilenet_v2", dataset, steps=100))
    batch = template["train_config"].batch_size
    halved = config.fill(config.FillRequest("ssd_mobilenet_v2", dataset, steps=100,
                                            batch_size=batch // 2))
    assert halved["train_config"].batch_size == batch // 2
    for name in ("learning_rate_base", "warmup_learning_rate"):
        assert getattr(cosine(halved), name) == pytest.approx(
            getattr(cosine(template), name) * (batch // 2) / batch)
    chosen = config.fill(config.FillRequest("ssd_mobilenet_v2", dataset, steps=100,
                                            batch_size=batch // 2,
                                            overrides=["learning_rate=0.05", "train_steps=300"]))
    assert cosine(chosen).learning_rate_base == pytest.approx(0.05)
    assert chosen["train_config"].num_steps == 300 and cosine(chosen).total_steps == 300


@pytest.mark.parametrize("item, message", [
    ("train_config.no_such_field=1", "has no field 'no_such_field'"),
    ("train_config.batch_size=abc", "wrong type"),
    ("model.ssd.feature_extractor.conv_hyperparams.activation=SPARKLE", "not one of"),
    ("model.ssd=1", "is a message"),
    ("nonsense=1", "unknown key"),
    ("missing_equals", "expected key=value"),
])
def test_bad_overrides_are_clear(item, message, dataset):
    with pytest.raises(UsageError, match=message):
        config.fill(config.FillRequest("ssd_mobilenet_v2", dataset, overrides=[item]))


def test_errors_name_the_file(tmp_path):
    with pytest.raises(OdhelperError, match="dataset.json: not found"):
        config.fill(config.FillRequest("ssd_mobilenet_v2", tmp_path))
    with pytest.raises(UsageError, match="unknown model 'yolo'"):
        config.fill(config.FillRequest("yolo", tmp_path))


def test_config_command(dataset, tmp_path, capsys):
    out = tmp_path / "run" / "pipeline.config"
    code = cli.main(["config", "--model", "faster_rcnn_resnet50", "--dataset", str(dataset),
                     "-o", str(out), "--steps", "77", "--set", "train_config.batch_size=1"])
    assert code == 0
    filled = config.load(out)
    assert filled["train_config"].num_steps == 77 and filled["train_config"].batch_size == 1
    assert cli.main(["config", "--model", "ssd_mobilenet_v2", "--dataset", str(dataset),
                     "-o", str(out), "--set", "train_config.bogus=1"]) == 2
    assert "has no field 'bogus'" in capsys.readouterr().err


def test_templates_untouched():
    now = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
           for path in registry.PIPELINES.glob("*.config")}
    assert now == TEMPLATES
