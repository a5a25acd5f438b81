#!/usr/bin/env python
"""Scale-out figures on this machine, each run in fresh processes with the real CLI:

(a) steps/s with --steps-per-loop 1 vs K (K steps inside one tf.function call);
(b) two MultiWorkerMirroredStrategy workers on loopback ports vs one process, same
    data, same global batch and steps: steps/s and the final validation mAP@0.5.

Data: the demo's synthetic shapes. Usage (defaults = the figures in the report):
    .venv/bin/python scripts/bench_scaleout.py --steps 300 --batch-size 16 --loop 100
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAP50 = "PascalBoxes_Precision/mAP@0.5IOU"


def odhelper(*args: str, **env: str) -> subprocess.Popen:
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    return subprocess.Popen([sys.executable, "-m", "odhelper", *args], cwd=ROOT,
                            env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def wait(*processes: subprocess.Popen) -> None:
    for process in processes:
        _, errors = process.communicate()
        if process.returncode:
            raise SystemExit(f"failed ({process.args}):\n{errors[-3000:]}")


def figures(run_dir: Path) -> dict:
    """steps/s of the training stage and the last evaluation's mAP@0.5."""
    records = [json.loads(line) for line in (run_dir / "timings.jsonl").read_text().splitlines()]
    training = [r for r in records if r["stage"] == "Transfer learning"][-1]
    evaluations = [r for r in records if r["stage"] == "Evaluate model"]
    return {"steps/s": training["steps/s"], "train s": round(training["seconds"], 1),
            "mAP@0.5": evaluations[-1].get(MAP50) if evaluations else None}


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--loop", type=int, default=100, help="K of --steps-per-loop")
    parser.add_argument("--pictures", type=int, default=1000)
    parser.add_argument("--only", choices=("loop", "workers"), default=None)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    dataset = work / "dataset"
    if not (dataset / "dataset.json").is_file():
        wait(odhelper("demo", "--generate-only", "--out", str(work / "demo"),
                      "--count", str(args.pictures), "--validate", "100"))
        wait(odhelper("tfrecord", "-i", str(work / "demo" / "synthetic" / "images"), "-o",
                      str(dataset), "-sr", str(round(1 - 100 / args.pictures, 4)),
                      "--shards", "2"))
    common = ["run", "--model", "ssd_mobilenet_v2_cpu", "--dataset", str(dataset),
              "--steps", str(args.steps), "--batch-size", str(args.batch_size),
              "--no-export", "--no-report", "--log-every", "50"]
    results = {}
    if args.only in (None, "loop"):
        for loop in (1, args.loop):
            run_dir = work / f"loop-{loop}"
            wait(odhelper(*common, "--run-dir", str(run_dir), "--eval-mode", "none",
                          "--steps-per-loop", str(loop)))
            results[f"one process, --steps-per-loop {loop}"] = figures(run_dir)
            print(json.dumps(results), flush=True)
    if args.only in (None, "workers"):
        evaluated = [*common, "--eval-every", str(args.steps)]
        wait(odhelper(*evaluated, "--run-dir", str(work / "one")))
        results["one process"] = figures(work / "one")
        cluster = [f"127.0.0.1:{port}" for port in free_ports(2)]
        workers = [odhelper(*evaluated, "--run-dir", str(work / "two"), "--strategy",
                            "multi_worker", TF_CONFIG=json.dumps(
                                {"cluster": {"worker": cluster},
                                 "task": {"type": "worker", "index": index}}))
                   for index in range(2)]
        wait(*workers)
        results["two workers"] = figures(work / "two")
    print(json.dumps({"steps": args.steps, "global batch": args.batch_size,
                      "pictures": args.pictures, "cores": os.cpu_count(),
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()
