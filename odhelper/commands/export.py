"""odhelper export: export a run's best (or last) checkpoint to RUN/export/."""
from __future__ import annotations

NAME = "export"
HELP = ("export RUN's best (or last) checkpoint as a SavedModel (+ TFLite fp32/fp16/int8 for "
        "SSD, + ONNX), each artifact evaluated on the validation split")


def options_class():
    from odhelper.options.inference import ExportOptions
    return ExportOptions


def run(options) -> int:
    from odhelper import log
    from odhelper.options.fields import save_yaml
    from odhelper.rundir import RunDir
    from odhelper.workflows.export import export_run

    run_dir = RunDir(options.run_dir).require()
    with run_dir.locked("export"), log.to_dir(run_dir.root):
        result = export_run(run_dir, options, batched=options.batched)
        save_yaml(options, run_dir.export_options)
        if result.error():
            raise result.error()
    return 0
