"""Run a model.onnx written by `odhelper export --onnx` (tf2onnx of the SavedModel)
like the SavedModel: `function(input_tensor=pixels)` returns the same outputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from odhelper.engine.onnx_export import NEEDED_OUTPUTS


class OnnxFunction:
    def __init__(self, path: Path):
        import onnxruntime

        self.path = Path(path)
        self.session = onnxruntime.InferenceSession(str(path),
                                                    providers=["CPUExecutionProvider"])
        given = self.session.get_inputs()[0]
        self.input_name = given.name
        self.input_dtype = np.dtype(np.uint8 if "uint8" in given.type else np.float32)
        # image_tensor exports take [1, H, W, 3]; float_image_tensor ones a batch
        self.takes_batches = not isinstance(given.shape[0], int)

    def __call__(self, input_tensor) -> dict[str, np.ndarray]:
        pixels = np.asarray(input_tensor).astype(self.input_dtype, copy=False)
        return dict(zip(NEEDED_OUTPUTS, self.session.run(list(NEEDED_OUTPUTS),
                                                          {self.input_name: pixels})))


def load(path: Path) -> OnnxFunction:
    return OnnxFunction(path)
