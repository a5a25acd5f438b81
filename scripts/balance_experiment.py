#!/usr/bin/env python
"""Class imbalance: the same training steps with and without `--balance`, per-class AP.

Training pictures: a common set (circle, square) plus a few pictures that also hold
the rare class (triangle), so the rare class has ~1/20 of the others' boxes. The
validation split is balanced (all three classes drawn alike) and shared by every
run (`--keep-validate`), so the rare class's AP is measured on enough pictures.
Prints, per mode: training records, boxes per class per epoch, and Pascal AP@0.5
per class at the end.

    .venv/bin/python scripts/balance_experiment.py --steps 600 --modes none repeat
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from odhelper.constants import PASCAL_CLASS_AP50, PASCAL_MAP50

CLASSES = ["circle", "square", "triangle"]
RARE = "triangle"


def _pictures(out: Path, args) -> tuple[Path, Path]:
    from odhelper.demo.synth import SynthOptions, generate

    common = dict(size=args.picture_size, holdout=0, workers=args.workers)
    generate(SynthOptions(out=out / "common", count=args.common, classes=CLASSES[:2],
                          seed=11, **common))
    generate(SynthOptions(out=out / "rare", count=args.rare, classes=CLASSES, seed=12,
                          **common))
    generate(SynthOptions(out=out / "validate", count=args.validate, classes=CLASSES, seed=13,
                          **common))
    train = out / "train_pictures"
    train.mkdir(exist_ok=True)
    for part in ("common", "rare"):  # one input folder (symlinks: no copy)
        link = train / part
        if not link.exists():
            link.symlink_to((out / part / "images").resolve())
    return train, out / "validate" / "images"


def _datasets(out: Path, train: Path, validate: Path, modes: list[str]) -> dict[str, Path]:
    from odhelper.data.build import build_dataset
    from odhelper.options.data import TfrecordOptions

    fixed = out / "validate_dataset"  # 1 picture trains, the rest validates
    build_dataset(TfrecordOptions(input=validate, output=fixed, split_ratio=0.01,
                                  copy_label_map=False, name="balance_validate"))
    datasets = {}
    for mode in modes:
        datasets[mode] = out / f"dataset_{mode}"
        content = build_dataset(TfrecordOptions(
            input=train, output=datasets[mode], keep_validate=fixed, balance=mode,
            copy_label_map=False, name="balance_experiment"))
        rows = {r["name"]: r for r in content.get("balance", {}).get("classes", [])}
        print(f"[{mode}] train pictures {content['splits']['train']['images']}, records "
              f"{content['splits']['train'].get('records', content['splits']['train']['images'])}"
              f", validate {content['splits']['validate']['images']}", flush=True)
        for c in content["classes"]:
            per_epoch = rows.get(c["name"], {}).get("boxes_per_epoch", c["train_boxes"])
            print(f"    {c['name']:<9} train boxes {c['train_boxes']:>5}  per epoch "
                  f"{per_epoch:>5}  validate boxes {c['validate_boxes']}", flush=True)
    return datasets


def _train(out: Path, mode: str, dataset: Path, args) -> dict:
    from odhelper.options.training import RunOptions
    from odhelper.workflows.run import run

    size = [f"model.ssd.image_resizer.fixed_shape_resizer.{side}={args.image_size}"
            for side in ("height", "width")]
    started = time.perf_counter()
    result = run(RunOptions(model="ssd_mobilenet_v2_cpu", steps=args.steps, dataset=dataset,
                            run_dir=out / f"run_{mode}", eval_every=args.steps,
                            batch_size=args.batch_size, from_scratch=True, set=size,
                            export=False, report=False, seed=args.seed))
    metrics = result.last_metrics or result.best_metrics
    ap = {name: metrics.get(PASCAL_CLASS_AP50 + name)
          for name in CLASSES}
    return {"mode": mode, "steps": result.final_step, "minutes":
            round((time.perf_counter() - started) / 60, 1),
            "mAP@0.5": metrics.get(PASCAL_MAP50), "AP@0.5": ap}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/balance_experiment"))
    parser.add_argument("--modes", nargs="+", default=["none", "repeat"],
                        choices=["none", "sqrt", "repeat"])
    parser.add_argument("--common", type=int, default=800, help="circle/square pictures")
    parser.add_argument("--rare", type=int, default=60, help="pictures that may hold a "
                        "triangle (~1/20 of the others' boxes)")
    parser.add_argument("--validate", type=int, default=150, help="balanced validation")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--picture-size", type=int, default=160)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    train, validate = _pictures(args.out, args)
    datasets = _datasets(args.out, train, validate, args.modes)
    results = []
    for mode in args.modes:
        results.append(_train(args.out, mode, datasets[mode], args))
        print(json.dumps(results[-1]), flush=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
