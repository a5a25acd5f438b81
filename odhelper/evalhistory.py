"""A run's evaluation history (RUN/eval/history.jsonl; the run directory's layout,
rundir.py, names the file)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path


class EvalHistory:
    """RUN/eval/history.jsonl: one JSON line per evaluation of the run (step, time,
    seconds, checkpoint, metrics), appended by whoever evaluates."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, step: int, metrics: dict[str, float], checkpoint: str | None = None,
               seconds: float | None = None) -> dict:
        entry = {"step": int(step), "time": dt.datetime.now().isoformat(timespec="milliseconds"),
                 "seconds": None if seconds is None else round(seconds, 3),
                 "checkpoint": Path(checkpoint).name if checkpoint else None,
                 "metrics": {k: float(v) for k, v in metrics.items()}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry) + "\n")
        return entry

    def records(self) -> list[dict]:
        found = []
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        for line in lines:
            try:
                found.append(json.loads(line))
            except ValueError:  # a line cut by a killed process
                continue
        return found

    def latest(self) -> dict | None:
        records = self.records()
        return records[-1] if records else None

    def at(self, step: int) -> dict | None:
        """The newest evaluation of `step`, if any."""
        return next((r for r in reversed(self.records()) if r.get("step") == step), None)
