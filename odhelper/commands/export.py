"""odhelper export: export a run's best (or last) checkpoint to RUN/export/."""
from __future__ import annotations

NAME = "export"
HELP = ("export RUN's best (or last) checkpoint as a SavedModel with its operating points "
        "(+ TFLite fp32/fp16/int8 for SSD, + ONNX), each artifact evaluated on the "
        "validation split; what is current is kept, what is asked for is added")


def options_class():
    from odhelper.options.inference import ExportOptions
    return ExportOptions


def run(options) -> int:
    from odhelper.rundir import RunDir
    from odhelper.workflows.export import export_run

    result = export_run(RunDir(options.run_dir), options)
    if result.error():
        raise result.error()
    return 0
