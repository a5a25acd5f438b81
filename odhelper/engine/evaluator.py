"""Score a detection model IN MEMORY on the validation records: the per-picture
detections, the OD API's own metrics computed from them (Pascal VOC and COCO, per
class) and the validation losses, in one pass.

The same path serves the in-run evaluation (the training model, switched to
inference for the call), the evaluation sidecar, a restored checkpoint and
`odhelper evaluate`: pictures come from the one record reader, and one traced
function of any picture size does preprocess -> predict -> postprocess -> loss
(traced once, whatever the sizes: no retracing per picture shape).

    Evaluator(model, configs).evaluate(step, writer=None) -> Scored(metrics, results)
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from odhelper import foreign
from odhelper.errors import OdhelperError
from odhelper.metrics.matching import ImageResult
from odhelper.od import api, without_autograph


@dataclass
class Scored:
    metrics: dict[str, float]  # OD API metric keys, plus the mean validation losses
    results: list[ImageResult] = field(default_factory=list)  # per picture, pixels
    files: list[str] = field(default_factory=list)  # the records scored


def label_map_of(configs: dict) -> str:
    return configs["eval_input_configs"][0].label_map_path


def categories(label_map: str) -> list[dict]:
    items = api().label_map_util.create_category_index_from_labelmap(label_map)
    return [items[key] for key in sorted(items)]


class Evaluator:
    """Evaluates `model` (a training or an inference model) on `files` (default: the
    configs' eval input)."""

    def __init__(self, model, configs: dict, files: list[str] | None = None):
        import tensorflow as tf

        from odhelper.engine import records

        self.model, self.configs = model, configs
        self.files = files or records.eval_record_files(configs, None)
        self._pictures: list = []  # the first pictures scored, drawn for TensorBoard
        self.label_map = label_map_of(configs)
        self.categories = categories(self.label_map)
        self.num_classes = len(self.categories)
        self.visualizations = configs["eval_config"].num_visualizations
        self.add_regularization = configs["train_config"].add_regularization_loss
        self._score = tf.function(without_autograph(self._score_one), input_signature=[
            tf.TensorSpec([1, None, None, 3], tf.float32), tf.TensorSpec([None, 4], tf.float32),
            tf.TensorSpec([None], tf.int32)])

    def _score_one(self, image, boxes, classes):
        """Detections and losses of one picture (normalised boxes, 1-based classes)."""
        import tensorflow as tf

        model = self.model
        was_training = model._is_training  # noqa: SLF001 - OD API convention
        model._is_training = False  # noqa: SLF001
        tf.keras.backend.set_learning_phase(False)
        try:
            preprocessed, shapes = model.preprocess(image)
            model.provide_groundtruth(
                groundtruth_boxes_list=[boxes],
                groundtruth_classes_list=[tf.one_hot(classes - 1, self.num_classes)],
                groundtruth_weights_list=[tf.ones_like(classes, tf.float32)])
            prediction = model.predict(preprocessed, shapes)
            found = model.postprocess(prediction, shapes)
            losses = model.loss(prediction, shapes)
            if self.add_regularization:
                regularization = model.regularization_losses()
                if regularization:
                    losses["Loss/regularization_loss"] = tf.add_n(regularization)
            losses["Loss/total_loss"] = tf.add_n(list(losses.values()))
        finally:
            model._is_training = was_training  # noqa: SLF001
            tf.keras.backend.set_learning_phase(was_training)
        fields = api().standard_fields.DetectionResultFields
        outputs = {key: found[key] for key in (fields.num_detections, fields.detection_boxes,
                                               fields.detection_scores,
                                               fields.detection_classes)}
        return outputs, losses

    def score(self, progress: bool = False) -> tuple[list[ImageResult], dict[str, float]]:
        """Per-picture results and mean losses over the records."""
        import tensorflow as tf

        from odhelper import log
        from odhelper.detections import from_outputs
        from odhelper.engine import records

        results, losses_seen = [], {}
        self._pictures = []
        pictures = records.read(self.files, self.label_map)
        if progress:
            pictures = log.progress(pictures, desc="evaluate", unit="img")
        for _, image, truth in pictures:
            scale = np.array([truth.height, truth.width, truth.height, truth.width], np.float32)
            outputs, losses = self._score(tf.cast(image, tf.float32)[tf.newaxis],
                                          truth.gt_boxes / scale,
                                          truth.gt_classes.astype(np.int32))
            results.append(truth.with_detections(from_outputs(
                outputs, truth.height, truth.width, label_offset=1)))
            for key, value in losses.items():
                losses_seen.setdefault(key, []).append(float(value))
            if len(results) <= self.visualizations:
                self._pictures.append((image, results[-1]))
        if not results:
            raise OdhelperError(f"{', '.join(self.files)}: no records to evaluate")
        return results, {key: float(np.mean(values)) for key, values in losses_seen.items()}

    def evaluate(self, step: int, writer=None, progress: bool = False) -> Scored:
        """One pass over the records; metrics as floats. With `writer`, scalars and
        side-by-side pictures (truth | detections) go to TensorBoard."""
        from odhelper.metrics import per_class

        results, losses = self.score(progress)
        metrics = per_class.od_api_metrics(results, self.categories)
        metrics.update(losses)
        if writer is not None:
            self._write(writer, step, metrics)
        return Scored(metrics, results, list(self.files))

    def _write(self, writer, step: int, metrics: dict[str, float]) -> None:
        import tensorflow as tf

        from odhelper.report.draw import side_by_side

        names = {c["id"]: c["name"] for c in self.categories}
        with writer.as_default():
            for key, value in metrics.items():
                tf.summary.scalar(key, value, step=step)
            for index, (image, result) in enumerate(self._pictures):
                with contextlib.suppress(ValueError):  # a picture too small to draw on
                    drawn = side_by_side(np.asarray(image), result, names)
                    tf.summary.image(f"eval_side_by_side_{index}", drawn[np.newaxis], step=step)
        writer.flush()


def evaluate_checkpoint(configs: dict, checkpoint_path: str, step: int | None = None,
                        writer_dir=None) -> Scored:
    """Restore `checkpoint_path` (a prefix, or a folder: its newest) into an inference
    model and evaluate it."""
    import tensorflow as tf

    from odhelper import log
    from odhelper.engine.restore import restored
    from odhelper.checkpoints import checkpoint_prefix

    prefix = checkpoint_prefix(checkpoint_path)
    if prefix is None:
        raise OdhelperError(f"{checkpoint_path}: no checkpoint found")
    found, restored_step = restored(configs, prefix)
    evaluator = Evaluator(found.model, configs)
    step = restored_step if step is None else step
    writer = tf.summary.create_file_writer(str(writer_dir)) if writer_dir else None
    log.info("Evaluating %s (step %d)", prefix, step)
    return evaluator.evaluate(step, writer)
