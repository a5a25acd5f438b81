"""Read what a run directory holds: options, dataset summary, TensorBoard
scalars, stage timings and evaluation results."""
from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

from odhelper import log
from odhelper.constants import COCO_AP50, COCO_MAP, PASCAL_MAP50
from odhelper.rundir import RunDir

DATASET_KEYS = ("dataset", "dataset_dir", "data", "dataset_path")
MAP_TAGS = (PASCAL_MAP50, COCO_MAP, COCO_AP50)

Series = dict[str, list[tuple[int, float]]]  # tag -> [(step, value)] sorted by step


def run_options(run_dir: RunDir) -> dict[str, Any]:
    """run.yaml as a dict ({} when absent or unreadable)."""
    import yaml

    path = run_dir.options_file
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except yaml.YAMLError as exc:
        log.warning("%s: not valid YAML (%s); options left out of the report", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _dataset_candidates(run_dir: RunDir, options: dict[str, Any]) -> list[Path]:
    found = []
    for key, value in options.items():
        if isinstance(value, dict):
            found += _dataset_candidates(run_dir, value)
        elif key in DATASET_KEYS and isinstance(value, str):
            found.append(Path(value))
    config = run_dir.pipeline_config
    if config.is_file():  # the directory of the records the run reads
        import re
        found += [Path(p).parent for p in
                  re.findall(r"input_path:\s*\"([^\"]+)\"", config.read_text(encoding="utf-8"))]
    return found


def dataset_summary(run_dir: RunDir, options: dict[str, Any]) -> dict | None:
    """The summary (dataset.json content) of the dataset the run was trained on, if it
    can be found."""
    from odhelper.datasetdir import DatasetDir

    for candidate in _dataset_candidates(run_dir, options):
        folder = candidate.parent if candidate.suffix == ".json" else candidate
        found = DatasetDir(folder).read_or_none()
        if found is not None:
            return found.raw
    return None


def _scalar(value) -> float | None:
    import tensorflow as tf

    if value.HasField("simple_value"):
        return float(value.simple_value)
    if value.HasField("tensor"):
        array = tf.make_ndarray(value.tensor)
        if array.size == 1 and array.dtype.kind in "fiu":
            return float(array.reshape(-1)[0])
    return None


def scalars(directory: Path) -> Series:
    """Every scalar in the TensorBoard event files under `directory` (recursive)."""
    import tensorflow as tf

    series: dict[str, dict[int, float]] = collections.defaultdict(dict)
    for path in sorted(directory.rglob("events.out.tfevents.*")) if directory.is_dir() else []:
        try:
            for event in tf.compat.v1.train.summary_iterator(str(path)):
                for value in event.summary.value:
                    number = _scalar(value)
                    if number is not None:
                        series[value.tag][int(event.step)] = number
        except tf.errors.DataLossError as exc:  # a file being written: keep what was read
            log.warning("%s: truncated event file (%s)", path, exc)
    return {tag: sorted(points.items()) for tag, points in series.items()}


def eval_metrics(run_dir: RunDir) -> dict | None:
    """RUN/eval/metrics.json as `odhelper evaluate` wrote it, if present."""
    path = run_dir.eval_metrics
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except json.JSONDecodeError as exc:
        log.warning("%s: unreadable (%s)", path, exc)
        return None


def operating_points(run_dir: RunDir) -> dict[str, float]:
    """Class name -> the shipped score threshold (RUN/export/thresholds.json), {} if none."""
    try:
        found = json.loads(run_dir.thresholds.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {name: float(item["threshold"]) for name, item in found.get("classes", {}).items()
            if isinstance(item, dict) and "threshold" in item}


def timings(run_dir: RunDir) -> list[dict[str, Any]]:
    """The JSON lines of RUN/timings.jsonl (broken lines skipped)."""
    path = run_dir.timings
    records = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def map_series(eval_scalars: Series, history: list[dict[str, Any]],
               records: list[dict[str, Any]]) -> Series:
    """mAP over steps: the run's evaluation history, else the eval event files, else the
    timing records of a run made before the history existed."""
    series = _series((r["step"], r.get("metrics", {})) for r in history)
    if series:
        return series
    series = {tag: points for tag, points in eval_scalars.items() if tag in MAP_TAGS}
    return series or _series((r["step"], r) for r in records if "step" in r and
                             r.get("status", "success") == "success")


def _series(points) -> Series:
    found: dict[str, dict[int, float]] = collections.defaultdict(dict)
    for step, values in points:
        for tag in MAP_TAGS:
            if isinstance(values.get(tag), (int, float)):
                found[tag][int(step)] = float(values[tag])
    return {tag: sorted(steps.items()) for tag, steps in found.items()}


def loss_series(train_scalars: Series) -> Series:
    return {tag: points for tag, points in train_scalars.items()
            if tag.lower().startswith("loss") or "loss" in tag.lower().split("/")[-1]}
