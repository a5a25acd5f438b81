"""RUN/report.html: one self-contained page (plots embedded as base64 PNG).

Sections: dataset class distribution, loss curves, mAP over steps, per-class AP,
sample detections, per-class table, stage timings, run options. A section whose
source is missing says what is missing instead of disappearing. Only rendering
here: workflows/report.py reads the records and runs the model.
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from odhelper import files
from odhelper.constants import COCO_AP50, COCO_AR100, COCO_MAP, PASCAL_MAP50
from odhelper.metrics import tables
from odhelper.report import markup, plots, sources
from odhelper.report import samples as report_samples
from odhelper.report.error_sections import SECTIONS as ERROR_SECTIONS
from odhelper.rundir import RunDir
STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.note{color:#777;font-style:italic}pre{background:#f7f7f7;padding:1em;overflow:auto}
img{max-width:100%}.kpi{display:inline-block;margin-right:2em}.kpi b{font-size:1.4em}"""


def dataset_section(dataset: dict | None) -> str:
    if not dataset or not dataset.get("classes"):
        return markup.note("dataset.json of the run's dataset not found (run.yaml `dataset`).")
    classes = dataset["classes"]
    names = [c["name"] for c in classes]
    splits = dataset.get("splits", {})
    sides = [s for s in ("train", "validate", "test") if s != "test" or s in splits]
    boxes = {split: [c.get(f"{split}_boxes", 0) for c in classes] for split in sides}
    pictures = {split: [c.get(f"{split}_images", 0) for c in classes] for split in sides}
    summary = ", ".join(f"{s}: {v.get('images', '?')} pictures, {v.get('boxes', '?')} boxes"
                        for s, v in splits.items())
    rows = [[n] + [values[side][i] for side in sides for values in (pictures, boxes)]
            for i, n in enumerate(names)]
    return (f"<p>{html.escape(summary)}; {len(dataset.get('problems', []))} problems noted "
            "by tfrecord.</p>"
            + markup.img(plots.grouped_bars(names, {f"{s} boxes": v for s, v in boxes.items()},
                                      "Boxes per class and split", "boxes"), "class distribution")
            + markup.table(["class"] + [f"{side} {what}" for side in sides
                                  for what in ("pictures", "boxes")], rows))


READABLE = {PASCAL_MAP50: "mAP@0.5 (VOC)", COCO_MAP: "COCO mAP@[.5:.95]",
            COCO_AP50: "COCO AP50", COCO_AR100: "COCO AR@100"}


def readable(tag: str) -> str:
    """A metric's name for people: 'Loss/total_loss' -> 'total loss'."""
    if tag in READABLE:
        return READABLE[tag]
    return tag.split("/", 1)[-1].replace("_", " ") if tag.startswith("Loss/") else tag


def curves_section(series, title: str, ylabel: str, missing: str, log_scale=False) -> str:
    if not series:
        return markup.note(missing)
    series = {readable(tag): points for tag, points in series.items()}
    last = ", ".join(f"{tag} {points[-1][1]:.4g} at step {points[-1][0]}"
                     for tag, points in sorted(series.items()))
    return markup.img(plots.curves(series, title, ylabel, log_scale), title) + \
        f"<p>Last: {html.escape(last)}</p>"


def class_ap_section(rows: list[dict[str, str]]) -> str:
    per_class = [r for r in rows if r["class"] != "all"]
    if not per_class:
        return markup.note("no per-class results (odhelper evaluate writes eval/per_class.csv).")

    def number(text: str) -> float:
        return float(text) if text not in ("", "-") else float("nan")
    names = [r["class"] for r in per_class]
    groups = {"AP@0.5 (VOC)": [number(r["AP@0.5 (VOC)"]) for r in per_class],
              "COCO AP@[.5:.95]": [number(r["COCO AP@[.5:.95]"]) for r in per_class]}
    caption = "; ".join(f"{n}: AP@0.5 {r['AP@0.5 (VOC)']}" for n, r in zip(names, per_class))
    return markup.img(plots.grouped_bars(names, groups, "Average precision per class", "AP",
                                   (0, 1.05)), "per-class AP") + \
        f"<p>{html.escape(caption)}</p>"


def timings_section(records: list[dict[str, Any]]) -> str:
    """Every stage, indented by how deep it ran; the chart shows the commands (the
    outermost stages) and the stages they were made of, whose times add up to theirs."""
    if not records:
        return markup.note("no timings.jsonl in the run directory.")
    rows = [["\u2003" * int(r.get("depth") or 0) + str(r.get("stage", "?")),
             r.get("status", "?"), f"{float(r.get('seconds', 0)):.1f}", r.get("start", ""),
             r.get("step", "")] for r in records]
    shown = [(i, r) for i, r in enumerate(records) if int(r.get("depth") or 0) <= 1]
    labels = [f"{'  ' * int(r.get('depth') or 0)}{r.get('stage', '?')} #{i + 1}"
              for i, r in shown]
    return (markup.img(plots.horizontal_bars(labels, [float(r.get("seconds", 0))
                                                      for _, r in shown],
                                             "Time per stage (commands and their stages)",
                                             "seconds"), "stage timings")
            + markup.table(["stage", "status", "seconds", "start", "step"], rows))


TRAINING_STAGES = ("Training", "Transfer learning")


def run_facts(options: dict, dataset: dict | None, records: list[dict],
              points: dict[str, float]) -> str:
    """Model, dataset, steps, epochs, training time and the shipped operating points."""
    trained = [r for r in records if r.get("stage") in TRAINING_STAGES]
    seconds = sum(float(r.get("seconds", 0)) for r in trained)
    last = trained[-1] if trained else {}
    facts = [("Model", options.get("model", "?"))]
    if dataset:
        splits = dataset.get("splits", {})
        facts.append(("Dataset", f"{dataset.get('name', '?')}: " + ", ".join(
            f"{v.get('images', '?')} {side}" for side, v in splits.items()) + " pictures"))
        if dataset.get("tile"):
            tile = dataset["tile"]
            facts.append(("Tiled", f"trained and evaluated on {tile['size']} px tiles (overlap "
                          f"{tile['overlap']:.0%}): the metrics below are of tiles; whole "
                          "pictures by tiles: eval/tiled/ (odhelper evaluate)"))
    facts.append(("Steps", f"{last.get('final step', '?')} of {options.get('steps', '?')}"
                  + (f" ({last['epochs']} epochs)" if "epochs" in last else "")
                  + (f", fitted to the time budget {options['time']}" if options.get("time")
                     else "")))
    facts.extend(("Fitted to the data", choice) for choice in options.get("fitted") or [])
    facts.append(("Training time", f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min "
                  f"{int(seconds % 60)} s" if trained else "not trained yet"))
    facts.append(("Operating points", ", ".join(f"{n} {t:.2f}" for n, t in points.items())
                  if points else "none shipped yet (export writes them)"))
    return "<p>" + "<br>".join(f"<b>{html.escape(k)}</b>: {html.escape(str(v))}"
                               for k, v in facts) + "</p>"


def headline(metrics: dict | None) -> str:
    if not metrics:
        return markup.note("not evaluated yet: run `odhelper evaluate --run-dir RUN`.")
    values = metrics.get("metrics", {})
    shown = [("mAP@0.5 (VOC)", PASCAL_MAP50), ("COCO mAP", COCO_MAP),
             ("COCO AP50", COCO_AP50), ("AR@100", COCO_AR100)]
    kpis = "".join(f'<span class="kpi">{label}<br><b>{values[key]:.3f}</b></span>'
                   for label, key in shown if key in values)
    return (f"<p>Checkpoint {html.escape(str(metrics.get('checkpoint')))} (step "
            f"{metrics.get('step')}), {metrics.get('pictures')} validation pictures.</p>{kpis}")


def augmentation_section(run_dir: RunDir, steps: list[str] | None) -> str:
    """The effective augmentation options (`steps`, None: no pipeline.config) and what
    the model sees (RUN/augment_preview.png)."""
    if steps is None:
        return markup.note("no pipeline.config in the run directory.")
    listing = (f"<p>{len(steps)} augmentation option(s) in the filled config:</p><pre>"
               + html.escape("\n".join(steps) or "(none)") + "</pre>")
    if not run_dir.augment_preview.is_file():
        return listing + markup.note("no preview (odhelper augment-preview --run-dir RUN makes "
                                     "one).")
    return listing + markup.png_file(run_dir.augment_preview,
                                     "training samples after augmentation") + (
        "<p>Training samples as the OD API's input pipeline makes them (augmented, "
        "resized, before the model's pixel normalisation), with their boxes.</p>")


def audit_section(run_dir: RunDir) -> str:
    """A link to the run's `odhelper audit` page, when there is one."""
    page = run_dir.audit.page
    if not page.is_file():
        return markup.note(f"no audit yet: odhelper audit -r {run_dir.root} ranks the "
                           "validation pictures whose boxes look wrong.")
    link = html.escape(page.relative_to(run_dir.root).as_posix())
    return f'<p><a href="{link}">{link}</a>: pictures whose boxes look wrong, data health.</p>'


def build_report(run_dir: RunDir, output: Path | None = None,
                 samples: report_samples.Samples | None = None,
                 augmentation: list[str] | None = None) -> Path:
    """Write the HTML report of `run_dir` from what it holds and what the workflow
    computed (sample detections, the augmentation steps of its pipeline.config);
    default RUN/report.html. Return its path."""
    if not run_dir.root.is_dir():
        from odhelper.errors import OdhelperError
        raise OdhelperError(f"{run_dir}: no such run directory")
    options = sources.run_options(run_dir)
    records = sources.timings(run_dir)
    metrics = sources.eval_metrics(run_dir)
    class_csv = run_dir.eval_dir / tables.CLASS_CSV
    class_rows = tables.read_class_csv(class_csv) if class_csv.is_file() else []
    letters = run_dir.eval_dir / tables.IMAGE_CSV
    dataset = sources.dataset_summary(run_dir, options)
    sections = [
        ("summary", "Summary", run_facts(options, dataset, records,
                                         sources.operating_points(run_dir)) + headline(metrics)),
        ("dataset", "Dataset: class distribution per split", dataset_section(dataset)),
        ("losses", "Training loss", curves_section(
            sources.loss_series(sources.scalars(run_dir.train_events)), "Training losses",
            "loss", "no training loss events under train/.", log_scale=True)),
        ("map", "mAP over steps", curves_section(
            sources.map_series(sources.scalars(run_dir.eval_dir), run_dir.history.records(),
                               records),
            "Evaluation mAP", "mAP", "no evaluation metrics over steps yet.")),
        ("class-ap", "Average precision per class", class_ap_section(class_rows)),
        ("samples", "Sample detections on validation pictures", report_samples.section(samples)),
        ("augmentation", "Augmentation: what the model sees",
         augmentation_section(run_dir, augmentation)),
        ("class-table", "Per-class table",
         markup.table(tables.CLASS_HEADERS, [list(r.values()) for r in class_rows])
         if class_rows else markup.note("no eval/per_class.csv yet.")),
        ("per-image", "Per-picture check (T right class, F wrong class, N nothing)",
         markup.table(tables.LETTER_HEADERS, [list(r.values()) for r in
                                        tables.read_class_csv(letters)])
         if letters.is_file() else markup.note("run evaluate with --per-image-table N.")),
        *((key, title, build(run_dir)) for key, title, build in ERROR_SECTIONS),
        ("audit", "Label audit", audit_section(run_dir)),
        ("timings", "Stage timings", timings_section(records)),
        ("options", "Run options (run.yaml)",
         f"<pre>{html.escape(json.dumps(options, indent=2, default=str))}</pre>"
         if options else markup.note("no run.yaml in the run directory.")),
    ]
    body = "".join(f'<section id="{key}"><h2>{title}</h2>{content}</section>'
                   for key, title, content in sections)
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>odhelper report: "
            f"{html.escape(run_dir.root.name)}</title><style>{STYLE}</style></head><body>"
            f"<h1>odhelper report: {html.escape(str(run_dir))}</h1>{body}</body></html>\n")
    target = Path(output) if output else run_dir.report
    files.write_text(target, page)
    return target
