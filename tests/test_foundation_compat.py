"""Each compat fix is exercised through the OD API piece it unlocks."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from odhelper.od import api, compat


@pytest.fixture(scope="module")
def od():
    return api()


def _jpeg_bytes(width=64, height=48, gray=False):
    image = Image.new("L" if gray else "RGB", (width, height), 128)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def _example(encoded, width, height, boxes, labels):
    import tensorflow as tf

    def floats(values):
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))

    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    def blobs(values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))

    columns = list(zip(*boxes))  # xmin, ymin, xmax, ymax
    return tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": blobs([encoded]), "image/format": blobs([b"jpeg"]),
        "image/height": ints([height]), "image/width": ints([width]),
        "image/filename": blobs([b"a.jpg"]), "image/source_id": blobs([b"a.jpg"]),
        "image/object/bbox/xmin": floats(columns[0]), "image/object/bbox/ymin": floats(columns[1]),
        "image/object/bbox/xmax": floats(columns[2]), "image/object/bbox/ymax": floats(columns[3]),
        "image/object/class/label": ints(labels),
    })).SerializeToString()


def test_every_fix_is_known_and_applied_once(od):
    assert set(compat.APPLIED) <= set(compat.ALL_FIXES)
    assert compat.apply() is compat.APPLIED  # second call does nothing
    # Each fix reports "not needed" once its effect is in place.
    for name, fix in compat._FIXES_BEFORE_IMPORT + compat._FIXES_AFTER_IMPORT:
        assert fix() is False, name


def test_tf_slim_example_decoder_decodes_image_and_boxes(od):
    """Fix 3 (control_flow_ops.case) is hit by TfExampleDecoder's image decoding."""
    serialized = _example(_jpeg_bytes(64, 48, gray=True), 64, 48,
                          [(0.1, 0.2, 0.5, 0.6), (0.3, 0.3, 0.9, 0.8)], [1, 2])
    decoder = od.tf_example_decoder.TfExampleDecoder()
    decoded = decoder.decode(serialized)
    fields = od.standard_fields.InputDataFields
    assert decoded[fields.image].shape == (48, 64, 3)
    np.testing.assert_allclose(decoded[fields.groundtruth_boxes].numpy(),
                               [[0.2, 0.1, 0.6, 0.5], [0.3, 0.3, 0.8, 0.9]], atol=1e-6)
    assert decoded[fields.groundtruth_classes].numpy().tolist() == [1, 2]


def _pascal_inputs(od):
    fields = od.standard_fields
    gt = {fields.InputDataFields.groundtruth_boxes: np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float),
          fields.InputDataFields.groundtruth_classes: np.array([1, 2])}
    det = {fields.DetectionResultFields.detection_boxes: np.array([[0, 0, 10, 10], [50, 50, 60, 60]], float),
           fields.DetectionResultFields.detection_scores: np.array([0.9, 0.8]),
           fields.DetectionResultFields.detection_classes: np.array([1, 2])}
    return gt, det


def test_pascal_metrics_run_under_numpy_2(od):
    """Fix 5 (np.float aliases) is hit by utils/metrics.py in the Pascal evaluator."""
    categories = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    evaluator = od.object_detection_evaluation.PascalDetectionEvaluator(categories)
    gt, det = _pascal_inputs(od)
    evaluator.add_single_ground_truth_image_info("img", gt)
    evaluator.add_single_detected_image_info("img", det)
    metrics = evaluator.evaluate()
    assert metrics["PascalBoxes_PerformanceByCategory/AP@0.5IOU/cat"] == pytest.approx(1.0)
    assert metrics["PascalBoxes_PerformanceByCategory/AP@0.5IOU/dog"] == pytest.approx(0.0)
    assert metrics["PascalBoxes_Precision/mAP@0.5IOU"] == pytest.approx(0.5)


def test_pascal_batched_eval_ignores_ground_truth_padding(od):
    """Fix 8: a batched eval dict with ground truth padded to 100 rows (as the
    eval input pads it) scores the same as the unpadded one: both classes AP 1."""
    import tensorflow as tf

    fields = od.standard_fields
    categories = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    gt = np.zeros((1, 100, 4), np.float32)
    gt[0, :2] = [[10, 10, 50, 50], [60, 60, 90, 90]]
    gt_classes = np.ones((1, 100), np.int64)  # padding: argmax(zeros) + 1 == 1
    gt_classes[0, 1] = 2
    scores = np.zeros((1, 100), np.float32)
    scores[0, :2] = 0.9
    det_classes = np.ones((1, 100), np.float32)
    det_classes[0, 1] = 2
    evaluator = od.object_detection_evaluation.PascalDetectionEvaluator(categories)
    evaluator.add_eval_dict({
        fields.InputDataFields.key: tf.constant(["img"]),
        fields.InputDataFields.groundtruth_boxes: tf.constant(gt),
        fields.InputDataFields.groundtruth_classes: tf.constant(gt_classes),
        fields.InputDataFields.num_groundtruth_boxes: tf.constant([2]),
        fields.DetectionResultFields.detection_boxes: tf.constant(gt.copy()),
        fields.DetectionResultFields.detection_scores: tf.constant(scores),
        fields.DetectionResultFields.detection_classes: tf.constant(det_classes),
        fields.DetectionResultFields.num_detections: tf.constant([2.0])})
    metrics = evaluator.evaluate()
    assert metrics["PascalBoxes_PerformanceByCategory/AP@0.5IOU/cat"] == pytest.approx(1.0)
    assert metrics["PascalBoxes_PerformanceByCategory/AP@0.5IOU/dog"] == pytest.approx(1.0)


def test_coco_per_category_stats_match_overall(od):
    """Fix 6: per-category COCO stats exist, and their mean is the overall mAP."""
    categories = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    evaluator = od.coco_evaluation.CocoDetectionEvaluator(
        categories, include_metrics_per_category=True, all_metrics_per_category=True)
    gt, det = _pascal_inputs(od)
    # A second image where the dog is found, shifted a little (IoU < 1).
    evaluator.add_single_ground_truth_image_info("a", gt)
    evaluator.add_single_detected_image_info("a", det)
    fields = od.standard_fields
    evaluator.add_single_ground_truth_image_info("b", {
        fields.InputDataFields.groundtruth_boxes: np.array([[0, 0, 40, 40]], float),
        fields.InputDataFields.groundtruth_classes: np.array([2])})
    evaluator.add_single_detected_image_info("b", {
        fields.DetectionResultFields.detection_boxes: np.array([[0, 0, 40, 36]], float),
        fields.DetectionResultFields.detection_scores: np.array([0.95]),
        fields.DetectionResultFields.detection_classes: np.array([2])})
    metrics = evaluator.evaluate()
    cat = metrics["DetectionBoxes_Precision/mAP ByCategory/cat"]
    dog = metrics["DetectionBoxes_Precision/mAP ByCategory/dog"]
    assert cat == pytest.approx(1.0)
    assert 0.0 < dog < 1.0
    assert (cat + dog) / 2 == pytest.approx(metrics["DetectionBoxes_Precision/mAP"])
    assert metrics["DetectionBoxes_Precision/mAP@.50IOU ByCategory/dog"] >= dog


def test_eval_image_drawing_under_new_pillow(od):
    """Fix 4 (FreeTypeFont.getsize) is hit when boxes get their text labels."""
    image = np.zeros((80, 120, 3), np.uint8)
    od.visualization_utils.draw_bounding_box_on_image_array(
        image, 0.2, 0.2, 0.8, 0.8, color="red", thickness=2,
        display_str_list=["cat: 90%"], use_normalized_coordinates=True)
    assert image.any()  # the box and label were drawn


def test_model_lib_v2_imports_with_its_tf1_dependencies(od):
    """Fixes 1-2 and the lvis stub: model_lib_v2 (train/eval loops) imports."""
    assert callable(od.model_lib_v2.train_loop)
    assert callable(od.model_lib_v2.eager_eval_loop)
    assert callable(od.exporter_lib_v2.export_inference_graph)


@pytest.mark.slow
def test_ssd_builds_and_real_training_steps_change_the_loss(od):
    from odhelper.od import smoke

    result = smoke.run("ssd_mobilenet_v2", steps=4, image_size=96, batch_size=2)
    assert all(math.isfinite(v) for v in result.losses)
    assert len(set(round(v, 6) for v in result.losses)) > 1
    assert result.losses[-1] < result.losses[0]
