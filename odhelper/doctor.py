"""`odhelper doctor`: is the TensorFlow / OD API stack on this machine usable?"""
from __future__ import annotations

import importlib.metadata as metadata
import platform
from dataclasses import dataclass, field

PACKAGES = ("tensorflow", "tensorflow-cpu", "tf-keras", "tf-object-detection-api",
            "tf-models-official", "tf-slim", "protobuf", "numpy", "pycocotools", "pillow")


@dataclass
class Report:
    versions: dict[str, str] = field(default_factory=dict)
    gpus: list[str] = field(default_factory=list)
    fixes_applied: list[str] = field(default_factory=list)
    fixes_not_needed: list[str] = field(default_factory=list)
    smoke_losses: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def installed_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def check(smoke_steps: int = 1) -> Report:
    """Collect versions, GPUs, compat fixes; build a model and take a step."""
    import math

    report = Report(versions=installed_versions())
    try:
        from odhelper.od import api, compat

        api()
        report.fixes_applied = list(compat.APPLIED)
        report.fixes_not_needed = [n for n in compat.ALL_FIXES if n not in compat.APPLIED]
        import tensorflow as tf

        report.versions["tensorflow (imported)"] = tf.__version__
        report.gpus = [gpu.name for gpu in tf.config.list_physical_devices("GPU")]
    except Exception as exc:  # noqa: BLE001 - a broken stack is what we report
        report.problems.append(f"importing the OD API failed: {type(exc).__name__}: {exc}")
        return report
    if smoke_steps:
        try:
            from odhelper.od import smoke

            result = smoke.run(steps=smoke_steps, image_size=96, batch_size=1)
            report.smoke_losses = result.losses
            if not all(math.isfinite(v) for v in result.losses):
                report.problems.append(f"training step gave a non-finite loss: {result.losses}")
        except Exception as exc:  # noqa: BLE001
            report.problems.append(f"building ssd_mobilenet_v2 and taking a training step "
                                   f"failed: {type(exc).__name__}: {exc}")
    return report
