"""Export a run's best (or last) checkpoint through the OD API's exporter_lib_v2:
RUN/export/{saved_model/, checkpoint/, pipeline.config, label map} (+ TFLite fp32,
fp16, int8 for SSD, tflite_export.py; + model.onnx, onnx_export.py)."""
from __future__ import annotations

import shutil
from pathlib import Path

from odhelper import files, log
from odhelper.od import api
from odhelper.rundir import ExportDir, RunDir


def export(run_dir: RunDir, tflite: bool | list[str] = False, batched: bool = False,
           onnx: bool = False, artifacts=None) -> Path:
    """Export the run's "best" checkpoint (RunDir.checkpoint); returns RUN/export.
    Atomic: a failed export leaves the previous one (if any) in place. `batched`:
    the OD API's `float_image_tensor` signature, which takes a batch of float32
    pictures of one size (odhelper predict then sends batches); otherwise
    `image_tensor`, one uint8 picture per call. `tflite`: the TFLite kinds (True =
    fp32); `artifacts` (options.artifacts.ArtifactOptions) gives the int8 calibration."""
    from odhelper.pipeline import config

    run_dir = RunDir(run_dir.root if isinstance(run_dir, RunDir) else run_dir).require()
    configs = config.load(run_dir.pipeline_config)
    checkpoint = Path(run_dir.checkpoint("best"))
    proto = api().config_util.create_pipeline_proto_from_configs(configs)
    input_type = "float_image_tensor" if batched else "image_tensor"
    with log.stage("Export model", "export", checkpoint=checkpoint.name, input=input_type) \
            as stage, files.atomic_dir(run_dir.export) as tmp:
        # the exporter restores the newest checkpoint of the folder it is given
        api().exporter_lib_v2.export_inference_graph(input_type, proto,
                                                     str(checkpoint.parent), str(tmp))
        out = ExportDir(tmp)
        if run_dir.label_map.is_file():  # export/ alone is enough to predict with names
            shutil.copyfile(run_dir.label_map, out.label_map)
        kinds = ["fp32"] if tflite is True else list(tflite or [])
        if kinds:
            from odhelper.engine.tflite_export import export_tflite
            export_tflite(configs, proto, checkpoint.parent, out, kinds,
                          **_calibration(artifacts))
        if onnx:
            from odhelper.engine.onnx_export import export_onnx
            export_onnx(out.saved_model, out.onnx)
        stage.extra["saved_model MB"] = round(_size(out.saved_model) / 1e6, 1)
    return run_dir.export


def _calibration(artifacts) -> dict:
    if artifacts is None:
        return {}
    return {"calibration_images": artifacts.calibration_images,
            "calibration_seed": artifacts.calibration_seed,
            "int8_input": artifacts.int8_input}


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
