"""The deployment options shared by `odhelper export` and `odhelper run`: which
artifacts to write beside the SavedModel and how each is checked."""
from __future__ import annotations

from dataclasses import dataclass

from odhelper.errors import UsageError
from odhelper.options.fields import option

TFLITE_KINDS = ("fp32", "fp16", "int8")
INT8_INPUTS = ("uint8", "int8", "float32")


def tflite_kinds(value) -> list[str]:
    """`--tflite fp32,int8` -> ["fp32", "int8"]; also true/false of older run.yaml files."""
    if value is None or value is False or str(value).strip().lower() in ("", "false", "none"):
        return []
    if value is True or str(value).strip().lower() == "true":
        return ["fp32"]
    kinds = [k.strip().lower() for k in str(value).split(",") if k.strip()]
    unknown = [k for k in kinds if k not in TFLITE_KINDS]
    if unknown:
        raise UsageError(f"--tflite: unknown kind {unknown[0]!r} (use a comma-separated list "
                         f"of {', '.join(TFLITE_KINDS)})")
    return list(dict.fromkeys(kinds))


@dataclass
class ArtifactOptions:
    GROUP = "export"
    tflite: str | None = option(None, "also export TFLite (SSD with a fixed-shape resizer): "
                                "a comma-separated list of fp32, fp16, int8; --tflite alone "
                                "= fp32", const="fp32")
    onnx: bool = option(False, "also export model.onnx (tf2onnx from the SavedModel, checked "
                        "with onnxruntime)")
    calibration_images: int = option(200, "int8: TRAIN pictures (seeded sample) that calibrate "
                                     "the quantisation")
    calibration_seed: int = option(0, "seed of that sample")
    int8_input: str = option("uint8", "int8 model input type (outputs stay float32, as the "
                             "OD API's TFLite post-processing writes them)", choices=INT8_INPUTS)
    max_ap_drop: float = option(0.05, "an artifact losing more mAP@0.5 than this against the "
                                "SavedModel (or detecting nothing) fails the export")
    check: bool = option(True, "evaluate every artifact on the validation split "
                         "(export/artifacts.md + .csv)")
    batched: bool | None = option(None, "SavedModel signature float_image_tensor: batches of "
                                  "float32 pictures of one size (odhelper predict sends "
                                  "batches: faster); --no-batched: image_tensor, one uint8 "
                                  "picture per call (the default of a new export); not given: "
                                  "an existing export keeps its signature")

    def check_artifact_fields(self) -> None:
        self.tflite = ",".join(tflite_kinds(self.tflite))
        if self.calibration_images < 1:
            raise UsageError(f"--calibration-images must be >= 1, got {self.calibration_images}")
        if not 0.0 <= self.max_ap_drop <= 1.0:
            raise UsageError(f"--max-ap-drop must be within 0..1, got {self.max_ap_drop}")

    @property
    def tflite_kinds(self) -> list[str]:
        return tflite_kinds(self.tflite)

    @property
    def wants_artifacts(self) -> bool:
        return bool(self.tflite_kinds or self.onnx)
