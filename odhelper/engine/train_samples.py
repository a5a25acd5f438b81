"""What the model sees: training samples as the OD API's own training input pipeline
(`inputs.train_input`) makes them, after augmentation and resize, with their boxes.

The one step left out is the feature extractor's pixel normalisation (a per-model
linear map to e.g. [-1, 1]): the preprocess function given to the pipeline resizes
with the model's own resizer, as the model's `preprocess` does, and stops there,
so the pictures keep their colours. report/augment_preview.py draws them.
"""
from __future__ import annotations

from odhelper.od import api, without_autograph


class _ResizeOnly:
    """Stands in for the detection model: `preprocess` = the model's resize, no
    normalisation (the OD API's meta-architectures resize the same way)."""

    def __init__(self, model_config):
        od = api()
        config = od.config_util.get_image_resizer_config(model_config)
        self.resize = od.inputs.image_resizer_builder.build(config)

    def preprocess(self, images):
        return api().inputs.shape_utils.resize_images_and_return_shapes(images, self.resize)


def samples(configs: dict, count: int = 16, seed: int = 0) -> list[tuple]:
    """`count` (uint8 HxWx3 pixels, boxes in pixels (xmin, ymin, xmax, ymax), class ids)."""
    import numpy as np
    import tensorflow as tf

    od = api()
    fields = od.standard_fields.InputDataFields
    tf.random.set_seed(seed)
    dataset = without_autograph(od.inputs.train_input)(
        configs["train_config"], configs["train_input_config"], configs["model"],
        model=_ResizeOnly(configs["model"]))
    found = []
    for features, labels in dataset.repeat():
        pictures = features[fields.image].numpy()
        shapes = features[fields.true_image_shape].numpy()
        for index in range(len(pictures)):
            height, width = shapes[index][:2]
            pixels = np.clip(pictures[index][:height, :width], 0, 255).astype(np.uint8)
            number = int(labels[fields.num_groundtruth_boxes][index])
            boxes = labels[fields.groundtruth_boxes][index][:number].numpy()
            padded_h, padded_w = pictures[index].shape[:2]
            pixel_boxes = [(b[1] * padded_w, b[0] * padded_h, b[3] * padded_w, b[2] * padded_h)
                           for b in boxes]
            classes = labels[fields.groundtruth_classes][index][:number].numpy()
            found.append((pixels, pixel_boxes, [int(c.argmax()) + 1 for c in classes]))
            if len(found) >= count:
                return found
    return found
