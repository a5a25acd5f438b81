"""odhelper evaluate: per-class (and per-picture) quality of a run's checkpoint."""
from __future__ import annotations

NAME = "evaluate"
HELP = ("evaluate a run's checkpoint with the OD API's Pascal VOC and COCO evaluators: "
        "per-class table (CSV + Markdown in RUN/eval), optional T/F/N table per picture")

HEADLINE = ("PascalBoxes_Precision/mAP@0.5IOU", "DetectionBoxes_Precision/mAP",
            "DetectionBoxes_Precision/mAP@.50IOU", "DetectionBoxes_Recall/AR@100")


def add_arguments(parser) -> None:
    from odhelper.metrics.evaluate import EvaluateOptions
    from odhelper.options.fields import add_arguments as add_options

    add_options(parser, EvaluateOptions)


def main(args) -> int:
    from odhelper import log
    from odhelper.metrics import tables
    from odhelper.metrics.evaluate import EvaluateOptions, evaluate
    from odhelper.options.fields import from_namespace

    options = from_namespace(EvaluateOptions, args)
    log.setup(options.run_dir, verbose=args.verbose)
    with log.stage("Evaluation", "evaluation", checkpoint=options.checkpoint) as stage:
        result = evaluate(options)
        stage.extra.update(step=result.step, checkpoint=result.checkpoint)
        stage.extra.update({k: round(result.metrics[k], 6) for k in HEADLINE
                            if k in result.metrics})
    print(f"\nPer-class results of {result.checkpoint} (step {result.step}), "
          f"score threshold {options.threshold}:")
    print(tables.text(tables.CLASS_HEADERS, tables.class_cells(result.classes)))
    if result.letters:
        print(f"\nTop detection per picture at IoU >= 0.5 "
              "(T right class, F wrong class, N nothing above the threshold):")
        print(tables.text(tables.LETTER_HEADERS, tables.letter_cells(result.letters)))
    log.info("Evaluation tables written: %s", ", ".join(str(p) for p in result.outputs))
    return 0
