"""model.onnx from the exported SavedModel with tf2onnx, checked with onnxruntime.

tf2onnx runs in a child process (its converter loads the SavedModel into a graph
of its own; a crash there cannot take the export down). The check loads the file
with onnxruntime and runs one black picture through it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from odhelper import files, log
from odhelper.errors import OdhelperError

OPSET = 17
NEEDED_OUTPUTS = ("num_detections", "detection_scores", "detection_classes", "detection_boxes")


def export_onnx(saved_model: Path, target: Path) -> Path:
    """Convert `saved_model` to `target`; an OdhelperError naming the cause if it fails."""
    environment = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    with log.stage("ONNX", "export", opset=OPSET) as stage, \
            files.atomic_path(target, suffix=".onnx") as temp:
        command = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(saved_model),
                   "--signature_def", "serving_default", "--output", str(temp),
                   "--opset", str(OPSET)]
        done = subprocess.run(command, capture_output=True, text=True, env=environment)
        if done.returncode != 0 or not temp.is_file() or not temp.stat().st_size:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise OdhelperError(f"{saved_model}: tf2onnx failed: "
                                f"{lines[-1] if lines else f'exit {done.returncode}'}")
        check_onnx(temp)
        stage.extra["MB"] = round(temp.stat().st_size / 1e6, 2)
    return target


def check_onnx(path: Path) -> None:
    """onnxruntime loads `path` and one black picture gives the detection outputs."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    given = session.get_inputs()[0]
    missing = [n for n in NEEDED_OUTPUTS if n not in {o.name for o in session.get_outputs()}]
    if missing:
        raise OdhelperError(f"{path}: no {', '.join(missing)} output")
    dtype = np.uint8 if "uint8" in given.type else np.float32
    outputs = session.run(list(NEEDED_OUTPUTS), {given.name: np.zeros([1, 64, 64, 3], dtype)})
    if outputs[3].shape[-1] != 4:
        raise OdhelperError(f"{path}: detection_boxes has shape {outputs[3].shape}")
