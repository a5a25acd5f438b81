"""Export one checkpoint of a run through the OD API's exporter_lib_v2 into RUN/export:
saved_model/, checkpoint/ and pipeline.config (each swapped in whole once the
export succeeded), and the label map beside them. Nothing else in export/ is touched
here: workflows/export.py decides what stays (operating points, TFLite, ONNX).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from odhelper import files, log
from odhelper.od import api
from odhelper.rundir import ExportDir, RunDir

INPUT_TYPES = ("image_tensor", "float_image_tensor")


def export_saved_model(run_dir: RunDir, configs: dict, checkpoint: Path,
                       input_type: str) -> float:
    """Export `checkpoint` with the `input_type` signature (image_tensor: one uint8
    picture per call; float_image_tensor: a batch of float32 pictures of one size);
    returns the SavedModel's size in MB."""
    proto = api().config_util.create_pipeline_proto_from_configs(configs)
    out = run_dir.exported
    out.root.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=".export.", suffix=".tmp", dir=out.root))
    try:
        with log.stage("Export model", "export", checkpoint=checkpoint.name,
                       input=input_type) as stage:
            # the exporter restores the newest checkpoint of the folder it is given
            api().exporter_lib_v2.export_inference_graph(input_type, proto,
                                                         str(checkpoint.parent), str(temp))
            made = ExportDir(temp)
            for source, target in ((made.saved_model, out.saved_model),
                                   (made.checkpoint_dir, out.checkpoint_dir),
                                   (made.pipeline_config, out.pipeline_config)):
                files.replace(source, target)
            if run_dir.label_map.is_file():  # export/ alone is enough to predict with names
                files.write_bytes(out.label_map, run_dir.label_map.read_bytes())
            stage.extra["saved_model MB"] = round(size(out.saved_model) / 1e6, 1)
            return stage.extra["saved_model MB"]
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def size(path: Path) -> int:
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0
