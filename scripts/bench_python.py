#!/usr/bin/env python
"""Which Python should scripts/setup.sh prefer? The demo model's start-up (stage start
to the first training step) and training speed on each supported Python, side by side in
one run, on the same dataset.

Each Python runs from its own venv (.venv-3.11, .venv-3.12, .venv-3.13; made by
`scripts/test_python.sh 3.X` or `ODHELPER_VENV=.venv-3.X PYTHON=3.X scripts/setup.sh`);
a missing venv is skipped. The runs alternate (3.11 3.12 3.13 3.13 3.12 3.11 ...) so a
machine that gets busier or quieter affects each alike; the table gives each Python's
median and its ratio to 3.11.

    .venv/bin/python scripts/bench_python.py --steps 200 --rounds 2
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ("3.11", "3.12", "3.13")


def make_dataset(folder: Path, python: str, pictures: int) -> Path:
    """The demo's synthetic shapes, converted once (any venv will do)."""
    subprocess.run([python, "-m", "odhelper", "demo", "--generate-only", "-o", str(folder),
                    "--count", str(pictures), "--validate", "20", "--holdout", "0"],
                   check=True, cwd=ROOT, capture_output=True)
    dataset = folder / "dataset"
    subprocess.run([python, "-m", "odhelper", "tfrecord", "-i", str(folder / "synthetic"),
                    "-o", str(dataset)], check=True, cwd=ROOT, capture_output=True)
    return dataset


def one_run(python: str, dataset: Path, run_dir: Path, steps: int) -> dict:
    """Start-up and steps/s of `odhelper run` (the demo's model, its batch size)."""
    done = subprocess.run([python, "-m", "odhelper", "run", "-m", "ssd_mobilenet_v2_cpu",
                           "-d", str(dataset), "-r", str(run_dir), "-n", str(steps),
                           "--batch-size", "16", "--eval-mode", "none", "--no-export",
                           "--no-report"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{python}: run failed\n{done.stderr[-2000:]}")
    records = [json.loads(line) for line in (run_dir / "timings.jsonl").read_text().splitlines()]
    training = [r for r in records if r["stage"] in ("Training", "Transfer learning")][-1]
    return {"first_step_s": training["first step s"], "steps_per_s": training["steps/s"],
            "stage_s": training["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="runs per Python")
    parser.add_argument("--pictures", type=int, default=400)
    args = parser.parse_args()
    pythons = {v: ROOT / f".venv-{v}" / "bin" / "python" for v in VERSIONS}
    pythons = {v: str(p) for v, p in pythons.items() if p.is_file()}
    if not pythons:
        raise SystemExit("no .venv-3.X here: make them with scripts/test_python.sh 3.X")
    for version in VERSIONS:
        if version not in pythons:
            print(f"Python {version}: no .venv-{version}, skipped")
    with tempfile.TemporaryDirectory(prefix="odhelper-bench-python-") as temp:
        temp = Path(temp)
        dataset = make_dataset(temp / "demo", next(iter(pythons.values())), args.pictures)
        seen: dict[str, list[dict]] = {v: [] for v in pythons}
        order = list(pythons)
        for round_number in range(args.rounds):
            for version in order if round_number % 2 == 0 else order[::-1]:
                run_dir = temp / f"run-{version}-{round_number}"
                seen[version].append(one_run(pythons[version], dataset, run_dir, args.steps))
                print(f"Python {version} round {round_number + 1}: {seen[version][-1]}",
                      flush=True)
    base = "3.11" if "3.11" in seen else order[0]
    median = {v: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
              for v, runs in seen.items()}
    print(f"\n{'Python':8}{'first step s':>14}{'steps/s':>10}{'x ' + base + ' steps/s':>18}"
          f"{'x ' + base + ' start-up':>20}")
    for version, values in median.items():
        print(f"{version:8}{values['first_step_s']:>14.1f}{values['steps_per_s']:>10.2f}"
              f"{values['steps_per_s'] / median[base]['steps_per_s']:>18.2f}"
              f"{median[base]['first_step_s'] / values['first_step_s']:>20.2f}")
    fastest = sorted(median, key=lambda v: -median[v]["steps_per_s"])
    print("\nPreference by training speed: " + " ".join(fastest))


if __name__ == "__main__":
    sys.exit(main())
