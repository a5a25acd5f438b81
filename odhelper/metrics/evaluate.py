"""`odhelper evaluate`: score a run's checkpoint on its evaluation records.

Writes into RUN/eval/: per_class.csv + .md (and per_image.csv + .md with
--per-image-table N) and metrics.json (checkpoint, step, the OD API metrics).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from odhelper import files
from odhelper.errors import OdhelperError, UsageError
from odhelper.metrics import per_class, per_image, tables
from odhelper.options.fields import option

EVAL_DIR = "eval"
METRICS_JSON = "metrics.json"
LABEL_MAP = "label_map.pbtxt"


@dataclass
class EvaluateOptions:
    run_dir: Path = option(None, "the run directory (written by odhelper run)", flags=("-r",))
    checkpoint: str = option("best", "best | last | ckpt-N | a checkpoint path", flags=("-c",))
    records: str | None = option(None, "evaluation TFRecords (glob); default: the run's "
                                 "eval input")
    per_image_table: int = option(0, "also print T/F/N for up to N validation pictures per "
                                  "class (T right class, F wrong class or place, N nothing found)")
    threshold: float = option(0.5, "score threshold for detections, precision/recall, T/F/N",
                              flags=("-t",))

    def __post_init__(self):
        if self.run_dir is None:
            raise UsageError("--run-dir is required")
        self.run_dir = Path(self.run_dir)
        if self.per_image_table < 0:
            raise UsageError(f"--per-image-table must be >= 0, got {self.per_image_table}")
        if not 0.0 <= self.threshold <= 1.0:
            raise UsageError(f"--threshold must be within 0..1, got {self.threshold}")


@dataclass
class Evaluation:
    checkpoint: str
    step: int
    metrics: dict[str, float]
    classes: list[per_class.ClassRow]
    letters: list[per_image.LetterRow] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)


def run_label_map(run_dir: Path, configs) -> Path:
    """RUN/label_map.pbtxt, else the eval input reader's label_map_path."""
    candidates = [run_dir / LABEL_MAP] + [Path(r.label_map_path)
                                           for r in configs["eval_input_configs"]]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise OdhelperError(f"{run_dir}: no {LABEL_MAP} (nor the config's label_map_path)")


def categories_of(label_map: Path) -> list[dict]:
    from odhelper.data import labelmap

    items = sorted(labelmap.read(label_map).items(), key=lambda kv: kv[1])
    return [{"id": number, "name": name} for name, number in items]


def unique_ids(results) -> None:
    """The evaluators key pictures by id: make repeated file names distinct."""
    seen: dict[str, int] = {}
    for result in results:
        count = seen.get(result.image_id, 0)
        seen[result.image_id] = count + 1
        if count:
            result.image_id = f"{result.image_id}#{count + 1}"


def load_run_configs(run_dir: Path):
    from odhelper.od import api

    config = run_dir / "pipeline.config"
    if not config.is_file():
        raise OdhelperError(f"{config}: missing; is {run_dir} a run directory?")
    return api().config_util.get_configs_from_pipeline_file(str(config))


def evaluate(options: EvaluateOptions) -> Evaluation:
    """Restore the checkpoint, detect on every eval record, build and save the tables."""
    from odhelper.metrics import collect

    run_dir = options.run_dir
    configs = load_run_configs(run_dir)
    checkpoint = collect.resolve_checkpoint(run_dir, options.checkpoint)
    label_map = run_label_map(run_dir, configs)
    categories = categories_of(label_map)
    records = collect.eval_record_files(configs, options.records or None)
    results = collect.collect(configs, checkpoint, records, label_map)
    unique_ids(results)
    metrics = per_class.od_api_metrics(results, categories)
    evaluation = Evaluation(checkpoint, collect.checkpoint_step(checkpoint), metrics,
                            per_class.class_table(results, categories, options.threshold,
                                                  metrics))
    out = run_dir / EVAL_DIR
    evaluation.outputs += tables.save_class_table(evaluation.classes, out)
    if options.per_image_table:
        evaluation.letters = per_image.letter_table(results, categories,
                                                    options.per_image_table, options.threshold)
        evaluation.outputs += tables.save_letter_table(evaluation.letters, out)
    files.write_json(out / METRICS_JSON, {
        "checkpoint": checkpoint, "step": evaluation.step, "records": records,
        "threshold": options.threshold, "pictures": len(results), "metrics": metrics})
    evaluation.outputs.append(out / METRICS_JSON)
    return evaluation


def read_metrics(run_dir: Path) -> dict | None:
    """RUN/eval/metrics.json as written by evaluate(), if present."""
    path = Path(run_dir) / EVAL_DIR / METRICS_JSON
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
