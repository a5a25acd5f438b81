#!/usr/bin/env python
"""Active learning on the demo's synthetic shapes, audited against the hidden truth.

A boxed subset trains round 0; a pool of image-level pictures (a folder per
class, boxes hidden in pool_truth/) is labelled by the model round after round.
Prints, per round: adopted pictures, their box precision/recall and picture
precision against the truth, training-set size and validation mAP@0.5.

    .venv/bin/python scripts/active_demo.py --boxed 1500 --pool 3000 --rounds 4
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/active_demo"))
    parser.add_argument("--boxed", type=int, default=1500, help="boxed pictures (train+val)")
    parser.add_argument("--pool", type=int, default=3000, help="image-level pool pictures")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--initial-steps", type=int, default=1000)
    parser.add_argument("--steps-per-round", type=int, default=500)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--box-threshold", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=160)
    args = parser.parse_args()

    from odhelper import log
    from odhelper.active.audit import audit
    from odhelper.options.training import ActiveOptions
    from odhelper.rundir import ActiveDir
    from odhelper.workflows.active_learn import active_learn
    from odhelper.demo.synth import SynthOptions, generate

    synthetic = args.out / "synthetic"
    if not (synthetic / "pool_truth").is_dir():
        generate(SynthOptions(out=synthetic, count=args.boxed, holdout=0, pool=args.pool))
    side = args.image_size
    started = time.perf_counter()
    state = active_learn(ActiveOptions(
        dataset=synthetic / "images", pool=synthetic / "pool", model="ssd_mobilenet_v2_cpu",
        rounds=args.rounds, steps_per_round=args.steps_per_round,
        initial_steps=args.initial_steps, threshold=args.threshold,
        box_threshold=args.box_threshold,
        run_dir=args.out / "run", batch_size=args.batch_size, from_scratch=True,
        set=[f"model.ssd.image_resizer.fixed_shape_resizer.height={side}",
             f"model.ssd.image_resizer.fixed_shape_resizer.width={side}"]))
    adopted_dir = ActiveDir(args.out / "run").adopted
    rows = []
    for record in state.rounds:
        xmls = [adopted_dir / (Path(key).with_suffix(".xml"))
                for keys in record.adopted.values() for key in keys]
        quality = audit(xmls, synthetic / "pool_truth").to_dict() if xmls else {}
        rows.append({"round": record.round, "step": record.steps,
                     "adopted": sum(len(v) for v in record.adopted.values()),
                     "train_images": record.train_images, **quality,
                     "map50": record.metrics.get("PascalBoxes_Precision/mAP@0.5IOU"),
                     "coco_map": record.metrics.get("DetectionBoxes_Precision/mAP"),
                     "minutes": round(record.seconds / 60, 1)})
    log.info("Active demo finished in %s", log.hms(time.perf_counter() - started))
    for row in rows:
        print(json.dumps(row))
    (args.out / "active_demo.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
