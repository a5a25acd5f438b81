"""odhelper evaluate: per-class (and per-picture) quality of a run's checkpoint."""
from __future__ import annotations

NAME = "evaluate"
HELP = ("evaluate a run's checkpoint with the OD API's Pascal VOC and COCO evaluators: "
        "per-class table (CSV + Markdown in RUN/eval), optional T/F/N table per picture")


def options_class():
    from odhelper.options.inference import EvaluateOptions
    return EvaluateOptions


def run(options) -> int:
    from odhelper import log
    from odhelper.metrics import error_tables, tables
    from odhelper.workflows.evaluate import evaluate

    result = evaluate(options)
    label = "TEST split (scored apart; never used to choose)" if result.split == "test" \
        else "validation split"
    if result.tile:
        label += f", whole pictures by {result.tile} px tiles"
    print(f"\nPer-class results of {result.checkpoint} (step {result.step}) on the "
          f"{label}, score threshold {options.threshold}:")
    print(tables.text(tables.CLASS_HEADERS, tables.class_cells(result.classes)))
    if result.letters:
        print("\nTop detection per picture at IoU >= 0.5 "
              "(T right class, F wrong class, N nothing above the threshold):")
        print(tables.text(tables.LETTER_HEADERS, tables.letter_cells(result.letters)))
    if result.analysis:
        print("\n" + error_tables.console(result.analysis, result.points))
    if result.thresholds_file:
        log.info("Per-class thresholds (%s) written to %s", ", ".join(
            f"{p.name} {p.threshold:.3f}" for p in result.points), result.thresholds_file)
    log.info("Evaluation tables written: %s", ", ".join(str(p) for p in result.outputs))
    return 0
