"""Benchmark: `odhelper predict`'s pipeline vs a plain per-image loop.

Same SavedModel, same pictures, one run each, after one warm-up call:
  plain  PIL decode -> numpy -> the `serving_default` signature (one uint8 picture per
         call, as a client of the OD API calls it), one picture after the other
  ours   odhelper.engine.predictor.detect, the default path (parallel tf.data decode +
         the training resize to the model input + prefetch + batches through the
         `serving_batched` signature when the export has it), detections only
  full   odhelper predict with drawn pictures + CSV + XML written
Also checks that both find the same top detection (class, IoU >= 0.9 in pixels).

    .venv/bin/python scripts/bench_predict.py --model RUN_OR_EXPORT \
        [--images ../shared/datasets/raccoon/images] [--limit 200]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = ROOT.parent / "shared" / "datasets" / "raccoon" / "images"


def client_signature(model):
    """The export's `serving_default`, loaded and warmed up as a client would."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(model.path))
    serving = loaded.signatures["serving_default"]
    serving._keepalive = loaded  # the signature needs its object alive
    dtype = serving.structured_input_signature[1]["input_tensor"].dtype
    serving(input_tensor=tf.zeros([1, 64, 64, 3], dtype))
    return serving, dtype


def plain_loop(client, paths, threshold):
    import tensorflow as tf
    from PIL import Image

    from odhelper.detections import from_outputs

    serving, dtype = client
    found = {}
    for path in paths:
        pixels = np.array(Image.open(path).convert("RGB"))
        outputs = serving(input_tensor=tf.constant(pixels[np.newaxis], dtype))
        found[path.name] = from_outputs(outputs, pixels.shape[0], pixels.shape[1]).above(
            threshold)
    return found


def pipeline(model, paths, root, threshold, workers):
    from odhelper.engine.predictor import detect
    from odhelper.thresholds import ScoreRule

    problems = []
    found = {p.name: p.detections for p in detect(model, paths, root, problems,
                                                  ScoreRule(threshold), workers)}
    return found, problems


def top_agreement(first, second) -> float:
    """Share of pictures whose best detections agree (same class, IoU >= 0.9)."""
    from odhelper.metrics import iou

    same = 0
    for name, a in first.items():
        b = second.get(name)
        if b is None or not len(a.scores) or not len(b.scores):
            same += b is not None and len(a.scores) == len(b.scores) == 0
            continue
        i, j = int(np.argmax(a.scores)), int(np.argmax(b.scores))
        overlap = iou(a.yxyx[i], b.yxyx[j])[0, 0]
        same += a.classes[i] == b.classes[j] and overlap >= 0.9
    return same / max(1, len(first))


def timed(function, *args):
    started = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="run dir, export dir or saved_model")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--threshold", type=float, default=0.3)
    parser.add_argument("--workers", type=int, default=0, help="0 = 2 per core")
    args = parser.parse_args()

    import tensorflow as tf

    from odhelper.engine import predictor
    from odhelper.options.inference import PredictOptions
    from odhelper.workflows.predict import predict

    paths = predictor.list_images(args.images)[:args.limit]
    model = predictor.load_model(Path(args.model))
    model.function(input_tensor=tf.zeros([1, 64, 64, 3], model.input_dtype))  # warm-up
    plain, plain_seconds = timed(plain_loop, client_signature(model), paths, args.threshold)
    (ours, problems), our_seconds = timed(pipeline, model, paths, args.images, args.threshold,
                                         args.workers)
    with tempfile.TemporaryDirectory() as out:
        options = PredictOptions(model=Path(args.model), input=args.images, output=Path(out),
                                 threshold=args.threshold, xml=True, calls=args.workers)
        options.input = args.images
        full = predict(options) if len(paths) == len(predictor.list_images(args.images)) \
            else None
    figures = {
        "pictures": len(paths), "model_input": model.input_size,
        "batch_signature": predictor.batch_capable(model),
        "workers": args.workers or predictor.default_workers(),
        "plain_images_per_s": round(len(paths) / plain_seconds, 2),
        "ours_images_per_s": round(len(ours) / our_seconds, 2),
        "speedup": round(plain_seconds / our_seconds * len(ours) / len(paths), 2),
        "full_predict_images_per_s": round(full.images_per_second, 2) if full else None,
        "top_detection_agreement": round(top_agreement(plain, ours), 3),
        "skipped": len(problems),
    }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
