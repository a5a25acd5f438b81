"""The one inference vocabulary: the detections type's views, the score rule, and
model outputs -> detections on a real (tiny) model, exported and as a checkpoint."""
import json

import numpy as np
import pytest

from odhelper import thresholds
from odhelper.detections import Detections, from_outputs
from odhelper.errors import OdhelperError

NAMES = {1: "cat", 2: "dog"}


def test_views_keep_and_names():
    found = Detections.from_xyxy([(10, 20, 50, 80), (0, 5, 30, 40)], [0.9, 0.3], [2, 7])
    assert found.yxyx.tolist() == [[20, 10, 80, 50], [5, 0, 40, 30]]
    assert found.xyxy.tolist() == [[10, 20, 50, 80], [0, 5, 30, 40]]
    assert Detections(found.yxyx, found.scores, found.classes).xyxy.tolist() == \
        found.xyxy.tolist()
    assert len(found) == 2 and found.names(NAMES) == ["dog", "class 7"]
    assert len(found.above(0.5)) == 1 and found.above(0.5).xyxy.tolist() == [[10, 20, 50, 80]]
    assert found.above(np.array([0.95, 0.1])).classes.tolist() == [7]  # one per detection
    assert found.keep([1, 0]).classes.tolist() == [7, 2]
    assert len(Detections()) == 0 and Detections().xyxy.shape == (0, 4)
    with pytest.raises(ValueError, match="2 boxes, 1 scores"):
        Detections([(0, 0, 1, 1)] * 2, [0.5], [1, 1])


def test_outputs_become_pixels():
    """Normalised (ymin, xmin, ymax, xmax) -> pixels of the picture; only num_detections
    of the padded outputs; label_offset for 0-based classes."""
    outputs = {"num_detections": np.array([2.0, 1.0]),
               "detection_boxes": np.array([[[0.1, 0.2, 0.5, 0.6], [0, 0, 1, 1], [0, 0, 0, 0]],
                                            [[0, 0, 0.5, 0.5], [0, 0, 0, 0], [0, 0, 0, 0]]]),
               "detection_scores": np.array([[0.9, 0.4, 0.0], [0.7, 0.0, 0.0]]),
               "detection_classes": np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0]])}
    first = from_outputs(outputs, 100, 200)
    assert np.allclose(first.yxyx, [[10, 40, 50, 120], [0, 0, 100, 200]])
    assert first.classes.tolist() == [1, 2] and first.scores.tolist() == pytest.approx([0.9, 0.4])
    second = from_outputs(outputs, 10, 10, index=1, label_offset=1)
    assert second.xyxy.tolist() == [[0, 0, 5, 5]] and second.classes.tolist() == [1]


def _shipped(folder, values: dict) -> None:
    (folder / "thresholds.json").write_text(json.dumps({"metric": "max F1", "classes": {
        name: {"threshold": value, "precision": 0.9, "recall": 0.8, "rule": "max F1",
               "met": True} for name, value in values.items()}}))


def test_score_rule_one_place(tmp_path):
    found = Detections([(0, 0, 10, 10)] * 4, [0.2, 0.6, 0.45, 0.9], [1, 1, 2, 3])
    assert thresholds.decide(tmp_path).describe() == "Score threshold 0.50 for every class"
    assert thresholds.decide(None, 0.3).apply(found, NAMES).scores.tolist() == \
        pytest.approx([0.6, 0.45, 0.9])
    _shipped(tmp_path, {"cat": 0.1, "dog": 0.7})
    rule = thresholds.decide(tmp_path)
    assert rule.per_class == {"cat": 0.1, "dog": 0.7} and rule.floor == 0.1
    assert "cat 0.100, dog 0.700 (other classes 0.50)" in rule.describe()
    # cat from 0.1, dog from 0.7, "class 3" (not in thresholds.json) from 0.5
    assert rule.apply(found, NAMES).scores.tolist() == pytest.approx([0.2, 0.6, 0.9])
    assert thresholds.decide(tmp_path, 0.5).per_class == {}  # the user's value holds for all
    (tmp_path / "thresholds.json").write_text("{}")
    with pytest.raises(OdhelperError, match="thresholds.json: not a thresholds file"):
        thresholds.decide(tmp_path)


@pytest.mark.slow
def test_checkpoint_and_export_outputs_agree(tmp_path_factory):
    """The same checkpoint through its SavedModel (label-map ids) and restored from
    the checkpoint (0-based classes, label_offset 1) gives the same pixel detections."""
    import tensorflow as tf

    from eval_support import cached_tiny_run
    from odhelper.engine import predictor, records
    from odhelper.engine.evaluator import Evaluator
    from odhelper.engine.restore import restored
    from odhelper.rundir import RunDir
    from odhelper.workflows.evaluate import load_run_configs

    run = cached_tiny_run(tmp_path_factory)
    model = predictor.load_model(run)
    configs = load_run_configs(run)
    evaluator = Evaluator(restored(configs, RunDir(run).checkpoint("last"))[0].model, configs)
    scored, _ = evaluator.score()
    pictures = records.read(evaluator.files, evaluator.label_map)
    for (_, pixels, _), result in zip(pictures, scored):  # of several sizes
        height, width = pixels.shape[:2]
        outputs = model.function(input_tensor=tf.constant(pixels[np.newaxis]))
        exported = from_outputs(outputs, height, width)
        count = int(outputs["num_detections"][0])
        assert len(exported) == count > 0
        assert np.allclose(exported.yxyx, outputs["detection_boxes"][0, :count].numpy()
                           * [height, width, height, width])
        assert set(exported.classes.tolist()) <= {1, 2}
        assert np.allclose(predictor.detect_picture(model, pixels).xyxy, exported.xyxy)
        checkpoint = result.detections  # the restored checkpoint's (label_offset 1)
        assert len(checkpoint) == count
        assert checkpoint.classes.tolist() == exported.classes.tolist()
        assert np.allclose(checkpoint.scores, exported.scores, atol=1e-4)
        assert np.allclose(checkpoint.yxyx, exported.yxyx, atol=0.05)
