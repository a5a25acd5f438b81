"""Model name -> template, TF2 model-zoo checkpoint, input size.

The zoo names and URLs are those of the TF2 Detection Model Zoo
(tf2_detection_zoo.md); every tarball unpacks to `<name>/checkpoint/ckpt-0`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odhelper.errors import UsageError

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
ZOO_URL = "http://download.tensorflow.org/models/object_detection/tf2/20200711/{name}.tar.gz"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    template: str  # file name in pipelines/
    input_size: tuple[int, int]  # height, width the template resizes to
    checkpoint: str | None  # zoo archive name (None: trained from scratch only)
    meta_architecture: str  # "ssd" or "faster_rcnn"
    description: str

    @property
    def template_path(self) -> Path:
        return PIPELINES / self.template

    @property
    def url(self) -> str | None:
        return ZOO_URL.format(name=self.checkpoint) if self.checkpoint else None


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("ssd_mobilenet_v2", "ssd_mobilenet_v2.config", (300, 300),
              "ssd_mobilenet_v2_320x320_coco17_tpu-8", "ssd",
              "fast, small; the zoo's '320x320' model (resizes to 300x300)"),
    ModelSpec("ssd_mobilenet_v2_fpnlite", "ssd_mobilenet_v2_fpnlite.config", (320, 320),
              "ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8", "ssd",
              "MobileNet v2 + FPN-lite: better on small objects, still mobile-sized"),
    ModelSpec("faster_rcnn_resnet50", "faster_rcnn_resnet50.config", (640, 640),
              "faster_rcnn_resnet50_v1_640x640_coco17_tpu-8", "faster_rcnn",
              "two-stage, accurate, slow (server GPU)"),
    ModelSpec("efficientdet_d0", "efficientdet_d0.config", (512, 512),
              "efficientdet_d0_coco17_tpu-32", "ssd",
              "EfficientDet D0 (BiFPN): good accuracy per FLOP"),
    ModelSpec("ssd_mobilenet_v2_cpu", "ssd_mobilenet_v2_cpu.config", (160, 160), None, "ssd",
              "half-width SSD at 160 px tuned to learn from scratch on a CPU (odhelper demo)"),
)}


def get(name: str) -> ModelSpec:
    """The spec of model `name`, or a usage error listing the known names."""
    try:
        return MODELS[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, list(MODELS), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise UsageError(f"unknown model '{name}'; {hint}known models: {', '.join(MODELS)}"
                         ) from None
