"""odhelper export: export a run's best (or last) checkpoint to RUN/export/."""
from __future__ import annotations

NAME = "export"
HELP = "export RUN's best (or last) checkpoint as a SavedModel (+ TFLite for SSD)"


def options_class():
    from odhelper.options.inference import ExportOptions
    return ExportOptions


def run(options) -> int:
    from odhelper import log
    from odhelper.engine.exporter import export
    from odhelper.options.fields import save_yaml
    from odhelper.rundir import RunDir

    run_dir = RunDir(options.run_dir).require()
    with run_dir.locked("export"), log.to_dir(run_dir.root):
        export(run_dir, tflite=options.tflite, batched=options.batched)
        save_yaml(options, run_dir.export_options)
    return 0
