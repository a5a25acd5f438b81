#!/usr/bin/env python
"""Benchmark of `odhelper run`'s one-process loop (issue 4), same config and data:

(a) steps/s of our loop vs the OD API's `model_lib_v2.train_loop`;
(b) the cost of one evaluation cycle in our loop (checkpoint + in-memory eval, the
    eval function already traced) vs the original helper tool's way: the training process
    exits, a new process restores + evaluates, then training restarts (new
    process, restore, first step) - the restart cost we avoid;
(c) peak RSS of training ssd_mobilenet_v2 at batch 8.

Each side runs in its own fresh process. Usage (small settings):
    .venv/bin/python scripts/bench_train.py --steps 12 --batch-size 8 --pictures 48
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def configs_for(args):
    from odhelper.pipeline import config

    return config.fill(config.FillRequest(args.model, Path(args.dataset), steps=10_000,
                                          batch_size=args.batch_size))


def mode_ours(args) -> dict:
    """Our loop: train, eval (traces), train, eval again; time every piece."""
    from odhelper.engine.builder import build_training
    from odhelper.rundir import RunDir
    from odhelper.engine.distribute import make_strategy
    from odhelper.engine.evaluator import Evaluator
    from odhelper.engine.trainer import NanGuard, Trainer

    configs = configs_for(args)
    started = time.perf_counter()
    setup = build_training(configs, RunDir(args.work), make_strategy("default"))
    times: list[float] = []

    class Clock(NanGuard):
        def after_step(self, trainer, losses):
            super().after_step(trainer, losses)
            times.append(time.perf_counter())

    trainer = Trainer(setup, total_steps=10_000, eval_every=10_000, hooks=[Clock()])
    mark = time.perf_counter()
    build = mark - started
    trainer.run_steps(1)
    first_step = time.perf_counter() - mark
    trainer.run_steps(1 + args.steps)
    step_times = [b - a for a, b in zip(times[1:], times[2:])]
    evaluator = Evaluator(setup.model, configs)
    cycles = []
    for _ in range(2):
        mark = time.perf_counter()
        setup.manager.save(checkpoint_number=setup.step)
        saved = time.perf_counter() - mark
        evaluator.evaluate(setup.step)
        cycles.append({"save_s": saved, "total_s": time.perf_counter() - mark})
        mark = time.perf_counter()
        trainer.run_steps(setup.step + 1)  # first step after evaluation
        cycles[-1]["next_step_s"] = time.perf_counter() - mark
    return {"build_s": build, "first_step_s": first_step,
            "median_step_s": statistics.median(step_times), "min_step_s": min(step_times),
            "steps_per_s": 1 / statistics.median(step_times), "eval_cycles": cycles,
            "checkpoint_dir": str(Path(args.work) / "checkpoints"), "peak_rss_mb": peak_rss_mb()}


def mode_train_loop(args) -> dict:
    """The OD API's own train_loop on the same config and data."""
    from odhelper.od import api
    from odhelper.pipeline import config

    path = config.write(configs_for(args), Path(args.work) / "pipeline.config")
    summary: dict = {}
    api().model_lib_v2.train_loop(
        pipeline_config_path=str(path), model_dir=args.work, train_steps=args.train_steps,
        num_steps_per_iteration=1, checkpoint_every_n=10**9, record_summaries=False,
        performance_summary_exporter=lambda metrics, precision: summary.update(metrics))
    return {"steps_per_s": summary["steps_per_sec_p50"],
            "median_step_s": 1 / summary["steps_per_sec_p50"],
            "min_step_s": 1 / summary["steps_per_sec_max"], "peak_rss_mb": peak_rss_mb()}


def mode_seed_eval(args) -> dict:
    """A fresh process restores the checkpoint and evaluates it."""
    from odhelper.engine.evaluator import evaluate_checkpoint

    metrics = evaluate_checkpoint(configs_for(args), args.checkpoint)
    return {"mAP@0.5": metrics.get("PascalBoxes_Precision/mAP@0.5IOU")}


MODES = {"ours": mode_ours, "train_loop": mode_train_loop, "seed_eval": mode_seed_eval}


def child(mode: str, args, **extra) -> tuple[dict, float]:
    """Run one mode in a fresh process; (its JSON result, its wall seconds)."""
    argv = [sys.executable, __file__, "--mode", mode, "--dataset", args.dataset,
            "--model", args.model, "--batch-size", str(args.batch_size),
            "--steps", str(args.steps)]
    for key, value in extra.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    mark = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    seconds = time.perf_counter() - mark
    if done.returncode:
        sys.exit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), seconds


def make_data(args, scratch: Path) -> str:
    from run_support import make_dataset

    return str(make_dataset(scratch, count=args.pictures, size=128))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES)
    parser.add_argument("--model", default="ssd_mobilenet_v2")
    parser.add_argument("--dataset")
    parser.add_argument("--work")
    parser.add_argument("--checkpoint")
    parser.add_argument("--steps", type=int, default=12, help="timed training steps")
    parser.add_argument("--train-steps", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--pictures", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternate ours / train_loop this many times (shared machines "
                             "are noisy: the best round of each is compared)")
    args = parser.parse_args()
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    if args.mode:
        print(json.dumps(MODES[args.mode](args)))
        return
    scratch = Path(tempfile.mkdtemp(prefix="bench_train."))
    try:
        report(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def report(args, scratch: Path) -> None:
    args.dataset = make_data(args, scratch)
    rounds = []
    for index in range(args.rounds):
        ours, _ = child("ours", args, work=scratch / f"ours{index}")
        theirs, _ = child("train_loop", args, work=scratch / f"train_loop{index}",
                          train_steps=args.steps + 2)
        rounds.append((ours, theirs))
    ours = max((r[0] for r in rounds), key=lambda r: r["steps_per_s"])
    theirs = max((r[1] for r in rounds), key=lambda r: r["steps_per_s"])
    checkpoint = ours["checkpoint_dir"]
    _, seed_eval_wall = child("seed_eval", args, checkpoint=checkpoint)
    restart_dir = scratch / "restart"
    shutil.copytree(checkpoint, restart_dir)
    step = int(Path(checkpoint, "checkpoint").read_text().split('"')[1].rsplit("-", 1)[1])
    _, restart_wall = child("train_loop", args, work=restart_dir, train_steps=step + 1)
    cycle = ours["eval_cycles"][1]
    ours_cycle = cycle["total_s"] + cycle["next_step_s"] - ours["median_step_s"]
    seed_cycle = seed_eval_wall + restart_wall
    print(json.dumps({"model": args.model, "batch": args.batch_size, "steps": args.steps,
                      "rounds": rounds,
                      "seed_eval_process_s": seed_eval_wall,
                      "seed_restart_process_s": restart_wall}, indent=1), file=sys.stderr)
    print(f"(a) steps/s (median step, best of {args.rounds} rounds)  ours "
          f"{ours['steps_per_s']:.3f}  train_loop {theirs['steps_per_s']:.3f}  ratio "
          f"{ours['steps_per_s'] / theirs['steps_per_s']:.2f}x; fastest step ours "
          f"{ours['min_step_s']:.3f} s vs {theirs['min_step_s']:.3f} s  (batch "
          f"{args.batch_size}, {args.model}); per round: " + ", ".join(
              f"{o['steps_per_s']:.2f}/{t['steps_per_s']:.2f}" for o, t in rounds))
    print(f"(b) one eval cycle  ours {ours_cycle:.1f} s (save {cycle['save_s']:.1f} + eval "
          f"{cycle['total_s'] - cycle['save_s']:.1f}; first eval incl. tracing "
          f"{ours['eval_cycles'][0]['total_s']:.1f})  seed way {seed_cycle:.1f} s (new eval "
          f"process {seed_eval_wall:.1f} + training restart {restart_wall:.1f}); avoided "
          f"{seed_cycle - ours_cycle:.1f} s per evaluation")
    print(f"(c) peak RSS training {args.model} batch {args.batch_size}: ours "
          f"{ours['peak_rss_mb']:.0f} MB (incl. eval), train_loop {theirs['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
