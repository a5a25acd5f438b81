"""Evaluate a detection model IN MEMORY on the eval records with the OD API's own
evaluators (COCO + Pascal VOC, per class), as `model_lib_v2.eager_eval_loop`
does, but with the eval dataset and the traced eval function built once and
reused at every evaluation (no re-tracing per cycle).

    Evaluator(model, configs).evaluate(step, writer=None) -> {metric: float}
    evaluate_checkpoint(configs, checkpoint_prefix, step=None, writer_dir=None) -> dict
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from odhelper import foreign, log
from odhelper.errors import OdhelperError
from odhelper.od import api


class Evaluator:
    """Evaluates `model` (training or inference model) on configs' eval input."""

    def __init__(self, model, configs: dict):
        import tensorflow as tf

        od = api()
        self.model, self.configs = model, configs
        self.eval_config = configs["eval_config"]
        input_config = configs["eval_input_configs"][0]
        self.dataset = od.inputs.eval_input(self.eval_config, input_config, configs["model"],
                                            model=model)
        self.categories = od.label_map_util.create_category_index_from_labelmap(
            input_config.label_map_path)
        self.agnostic = od.label_map_util.create_class_agnostic_category_index()
        self._compute = tf.function(self._compute_eval_dict)

    def _compute_eval_dict(self, features, labels):
        """Detections + losses of one eval batch (traced once, in inference mode)."""
        import tensorflow as tf

        od = api()
        fields = od.standard_fields.InputDataFields
        was_training = self.model._is_training  # noqa: SLF001 - OD API convention
        self.model._is_training = False  # noqa: SLF001
        tf.keras.backend.set_learning_phase(False)
        try:
            boxes_shape = labels[fields.groundtruth_boxes].get_shape().as_list()
            unpad = boxes_shape[1] is not None and self.eval_config.batch_size == 1
            groundtruth = labels
            unstacked = od.model_lib.unstack_batch(labels, unpad_groundtruth_tensors=unpad)
            losses, predictions = od.model_lib_v2._compute_losses_and_predictions_dicts(  # noqa
                self.model, features, unstacked, training_step=None,
                add_regularization_loss=self.configs["train_config"].add_regularization_loss)
            detections = self.model.postprocess(predictions, features[fields.true_image_shape])
        finally:
            self.model._is_training = was_training  # noqa: SLF001
            tf.keras.backend.set_learning_phase(was_training)
        keys = (fields.image, fields.original_image, fields.original_image_spatial_shape,
                fields.true_image_shape, od.inputs.HASH_KEY)
        return losses, detections, groundtruth, {key: features[key] for key in keys}

    def _evaluators(self, class_agnostic: bool):
        eval_util = api().eval_util
        options = eval_util.evaluator_options_from_eval_config(self.eval_config)
        categories = self.agnostic if class_agnostic else self.categories
        return eval_util.get_evaluators(self.eval_config, list(categories.values()), options)

    def _draw(self, eval_dict, index: int, class_agnostic: bool, step: int) -> None:
        import tensorflow as tf

        images = api().visualization_utils.draw_side_by_side_evaluation_image(
            eval_dict, category_index=self.agnostic if class_agnostic else self.categories,
            max_boxes_to_draw=self.eval_config.max_num_boxes_to_visualize,
            min_score_thresh=self.eval_config.min_score_threshold,
            use_normalized_coordinates=False)
        for j, image in enumerate(images):
            tf.summary.image(f"eval_side_by_side_{index}_{j}", image, step=step,
                             max_outputs=self.eval_config.num_visualizations)

    def evaluate(self, step: int, writer=None) -> dict[str, float]:
        """One pass over the eval records; metrics (+ mean eval losses) as floats.
        With `writer`, scalars and side-by-side images go to TensorBoard."""
        import contextlib

        import numpy as np

        od = api()
        evaluators, losses_seen = None, {}
        scope = writer.as_default() if writer is not None else contextlib.nullcontext()
        with scope:
            for index, (features, labels) in enumerate(self.dataset):
                losses, detections, groundtruth, eval_features = self._compute(features, labels)
                eval_dict, class_agnostic = od.model_lib_v2.prepare_eval_dict(
                    detections, groundtruth, eval_features)
                if writer is not None and index < self.eval_config.num_visualizations:
                    self._draw(eval_dict, index, class_agnostic, step)
                if evaluators is None:
                    evaluators = self._evaluators(class_agnostic)
                for evaluator in evaluators:
                    evaluator.add_eval_dict(eval_dict)
                for key, value in losses.items():
                    losses_seen.setdefault(key, []).append(float(value))
            metrics = _collect(evaluators or [], losses_seen, np)
            if writer is not None:
                _write_scalars(metrics, step)
                writer.flush()
        return metrics


def _collect(evaluators, losses_seen: dict, np) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for evaluator in evaluators:
        with foreign.printed():  # pycocotools prints its summary
            metrics.update({str(k): float(v) for k, v in evaluator.evaluate().items()})
    for key, values in losses_seen.items():
        metrics[key] = float(np.mean(values))
    return metrics


def _write_scalars(metrics: dict[str, float], step: int) -> None:
    import tensorflow as tf

    for key, value in metrics.items():
        tf.summary.scalar(key, value, step=step)


def evaluate_checkpoint(configs: dict, checkpoint_path: str, step: int | None = None,
                        writer_dir: Path | None = None) -> dict[str, Any]:
    """Restore `checkpoint_path` (a ckpt prefix, or a folder: its newest) into an
    inference model and evaluate it; returns the metrics dict."""
    import tensorflow as tf

    from odhelper.engine.restore import restored

    from odhelper.rundir import checkpoint_prefix

    prefix = checkpoint_prefix(checkpoint_path)
    if prefix is None:
        raise OdhelperError(f"{checkpoint_path}: no checkpoint found")
    found, restored_step = restored(configs, prefix)
    evaluator = Evaluator(found.model, configs)
    step = restored_step if step is None else step
    writer = tf.summary.create_file_writer(str(writer_dir)) if writer_dir else None
    log.info("Evaluating %s (step %d)", prefix, step)
    metrics = evaluator.evaluate(step, writer)
    metrics.setdefault("step", step)
    return metrics
