#!/usr/bin/env python
"""Start-up of `odhelper run` (stage start to the end of the first step) against the
time of 100 steps, with and without AutoGraph converting the OD API's code.

Draws a small synthetic shapes dataset (the demo's pictures) once, then alternates two
fresh processes of `odhelper run -m ssd_mobilenet_v2_cpu --from-scratch -n STEPS`
(the demo's 160 px input and batch): odhelper as it is, and a baseline in which
`odhelper.od.without_autograph` leaves functions to AutoGraph (what odhelper did
before). Start-up is the Training stage's seconds less its evaluation and the steps
after the first; prints each run, the medians and their ratio.

Usage: scripts/bench_startup.py [--steps 100] [--repeats 2] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench_support import ROOT, odhelper, work_folder

BASELINE = ("import sys, odhelper.od as od; od.without_autograph = lambda f: f; "
            "from odhelper.cli import main; sys.exit(main(sys.argv[1:]))")


def one_run(work: Path, name: str, baseline: bool, steps: int) -> tuple[float, float]:
    """(start-up seconds, seconds per 100 steps) of one training run."""
    run = work / name
    argv = ["run", "-m", "ssd_mobilenet_v2_cpu", "--from-scratch", "--dataset",
            str(work / "dataset"), "-r", str(run), "-n", str(steps), "--eval-every",
            str(steps), "--no-export", "--no-report", "--image-size", "160",
            "--anchors", "template", "-b", "16"]
    code = [sys.executable, "-c", BASELINE] if baseline else [sys.executable, "-m", "odhelper"]
    with open(work / f"{name}.log", "w") as stream:
        done = subprocess.run([*code, *argv], stdout=stream, stderr=subprocess.STDOUT,
                              cwd=ROOT, check=False)
    if done.returncode:
        raise SystemExit(f"{name} failed ({done.returncode}): see {work / name}.log")
    records = [json.loads(line) for line in (run / "timings.jsonl").read_text().splitlines()]
    training = next(r for r in records if r["stage"] == "Training")
    evaluation = sum(r["seconds"] for r in records if r["stage"] == "Evaluate model")
    per_step = 1 / training["steps/s"]
    startup = training["seconds"] - evaluation - (steps - 1) * per_step
    return startup, 100 * per_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    with work_folder(args.keep, "bench-startup-") as work:
        odhelper("demo", "-o", str(work / "demo"), "--generate-only", "--count", "600",
                 log=work / "generate.log")
        odhelper("tfrecord", "-i", str(work / "demo" / "synthetic" / "images"), "-o",
                 str(work / "dataset"), "--no-copy-label-map", log=work / "tfrecord.log")
        seen: dict[str, list[float]] = {"autograph": [], "odhelper": []}
        for repeat in range(args.repeats):
            for baseline in (True, False):
                label = "autograph" if baseline else "odhelper"
                startup, hundred = one_run(work, f"{label}-{repeat}", baseline, args.steps)
                seen[label].append(startup)
                print(f"{label:<9} run {repeat + 1}: start-up {startup:.1f} s, 100 steps "
                      f"{hundred:.1f} s ({startup / hundred:.2f}x)", flush=True)
        before, after = (statistics.median(seen[k]) for k in ("autograph", "odhelper"))
        print(f"median start-up: with AutoGraph {before:.1f} s, without {after:.1f} s: "
              f"{before / after:.2f}x faster")


if __name__ == "__main__":
    main()
