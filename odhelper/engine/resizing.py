"""The one resize of pictures fed to a fixed-shape model outside its own graph (TFLite,
predict's pre-resize for batches, video frames, int8 calibration): exactly what the OD
API's fixed_shape_resizer does in training, in evaluation and inside the SavedModel,
TF1 `resize_images`: bilinear, no half-pixel centres, no antialiasing.

tflite.json carries RESIZE for clients that resize pictures themselves (PIL's bilinear,
OpenCV's INTER_LINEAR and TF2's tf.image.resize use half-pixel centres: not the same
pixels).
"""
from __future__ import annotations

RESIZE = {"method": "bilinear", "half_pixel_centers": False, "align_corners": False,
          "antialias": False, "as": "TF1 tf.compat.v1.image.resize_images (the OD API's "
                                    "fixed_shape_resizer)"}


def to_input(pictures, size):
    """[H, W, 3] or [B, H, W, 3] pixels (any dtype) -> float32 at `size` (height, width),
    resized as training resized them."""
    import tensorflow as tf

    return tf.compat.v1.image.resize(tf.cast(pictures, tf.float32), list(size),
                                     method=tf.compat.v1.image.ResizeMethod.BILINEAR,
                                     align_corners=False)
