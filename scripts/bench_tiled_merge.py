#!/usr/bin/env python
"""Sliced inference's merge, side by side on the same detections: whole-picture mAP@0.5
of a tiled run's export with plain per-class NMS over every view (the baseline) and with
odhelper's merge (partial views give way: engine/tiled.py).

The pictures: the validation canvases of a devkit made by `scripts/bench_quality.py
--keep DIR` (DIR/pictures), pasted 3x3 in --arrangements seeded orders, so the same
objects fall at other places against the tile edges. Each picture is run once through
the model (engine.tiled.views); both merges read those detections.

Usage: scripts/bench_tiled_merge.py RUN DEVKIT [--tile 640] [--overlap 0.2] [--arrangements 6]
(e.g. RUN = DIR/run-tiled, DEVKIT = DIR/pictures after bench_quality --levers fitted,tiled)
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from bench_quality import SIDE, grid_picture


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("devkit", type=Path)
    parser.add_argument("--tile", type=int, default=640)
    parser.add_argument("--overlap", type=float, default=0.2)
    parser.add_argument("--arrangements", type=int, default=6)
    args = parser.parse_args()

    import numpy as np

    from odhelper.data import labelmap
    from odhelper.detections import Detections
    from odhelper.engine import predictor, tiled
    from odhelper.metrics.errors import average_precision, curves
    from odhelper.metrics.matching import ImageResult

    ids = labelmap.read(args.run / "label_map.pbtxt")
    model = predictor.load_model(args.run)
    validate = (args.devkit / "ImageSets" / "Main" / "val.txt").read_text().split()
    results: dict[str, list] = {"plain NMS over every view": [], "odhelper's merge": []}
    for arrangement in range(args.arrangements):
        order = validate[:]
        random.Random(arrangement).shuffle(order)
        for start in range(0, len(order) - SIDE * SIDE + 1, SIDE * SIDE):
            canvas, pasted = grid_picture(args.devkit, order[start:start + SIDE * SIDE])
            boxes = [(y0, x0, y1, x1) for _, x0, y0, x1, y1 in pasted]
            classes = [ids[label] for label, *_ in pasted]
            found = tiled.views(model, np.asarray(canvas), args.tile, args.overlap)
            every = found.detections
            keep = tiled.merge(every.yxyx, every.scores, every.classes)
            for name, detections in (
                    ("plain NMS over every view", Detections(every.yxyx[keep], every.scores[keep],
                                                             every.classes[keep])),
                    ("odhelper's merge", tiled.merged(found, args.tile, args.overlap))):
                results[name].append(ImageResult(f"{arrangement}-{start}", canvas.width,
                                                 canvas.height, boxes, classes, detections))
    categories = [{"id": number, "name": name} for name, number in ids.items()]
    pictures = len(results["odhelper's merge"])
    objects = sum(len(r.gt_classes) for r in results["odhelper's merge"])
    first = results["odhelper's merge"][0]
    print(f"{pictures} pictures of {first.width}x{first.height} ({objects} objects), "
          f"{args.tile} px tiles, overlap {args.overlap:.0%}")
    base = None
    for name, found in results.items():
        value = float(np.nanmean([average_precision(c) for c in curves(found, categories)]))
        base = value if base is None else base
        print(f"{name:<28} mAP@0.5 {value:.4f}" + (f"  x{value / base:.2f}" if base else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
