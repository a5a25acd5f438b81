"""--precision mixed_float16 for OD API models: the Keras policy makes the layers
compute in float16 while the OD API's losses and post-processing expect float32
predictions, so the model's predictions are cast back to float32 (the usual
"float32 outputs" rule of mixed precision)."""
from __future__ import annotations


def float32_predictions(model) -> None:
    """Wrap `model.predict` so that every float16 tensor it returns is float32."""
    import tensorflow as tf

    original = model.predict

    def to_float32(value):
        if isinstance(value, (list, tuple)):
            return type(value)(to_float32(item) for item in value)
        if isinstance(value, dict):
            return {key: to_float32(item) for key, item in value.items()}
        if getattr(value, "dtype", None) == tf.float16:
            return tf.cast(value, tf.float32)
        return value

    def predict(*args, **kwargs):
        return to_float32(original(*args, **kwargs))

    model.predict = predict


def mixed_policy_active() -> bool:
    import tensorflow as tf

    return tf.keras.mixed_precision.global_policy().compute_dtype == "float16"
