"""A deterministic synthetic LabelImg dataset: shapes on noisy backgrounds.

Layout written under `out`:
    images/shapes-00000.jpg + .xml    labelled pictures (the tfrecord input)
    holdout/holdout-00000.jpg + .xml  never trained on: for `predict`
    pool/<class>/pool-00000.jpg       image-level pool, one class per picture
    pool_truth/<class>/pool-00000.xml its hidden boxes (for active learning checks)
    synth.json                        options, counts per class and split
Picture i of a split depends only on (seed, split, i): the same options give
byte-identical files whatever the number of worker processes.
"""
from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from odhelper import files
from odhelper.data.annotation import Annotation, Box, to_xml
from odhelper.demo.shapes import SHAPES, draw_picture
from odhelper.errors import UsageError
from odhelper.options.fields import option, to_dict

SPLITS = {"images": ("shapes", 0), "holdout": ("holdout", 1), "pool": ("pool", 2)}
CHUNK = 100  # pictures per worker task


@dataclass
class SynthOptions:
    out: Path = option(Path("demo/synthetic"), "folder that receives images/, holdout/, pool/")
    count: int = option(3000, "labelled pictures (split later into train/validate)")
    holdout: int = option(8, "extra pictures kept out of the dataset, for predict")
    pool: int = option(0, "image-level pool pictures (folder per class, boxes hidden)")
    classes: list[str] = option(help=f"shape classes, from {', '.join(SHAPES)}",
                                factory=lambda: ["circle", "square", "triangle"])
    size: int = option(256, "picture side in pixels")
    min_objects: int = option(1, "fewest shapes per picture")
    max_objects: int = option(3, "most shapes per picture")
    min_scale: float = option(0.15, "smallest shape, as a share of the side")
    max_scale: float = option(0.5, "largest shape, as a share of the side")
    seed: int = option(7, "random seed: same seed, same pictures")
    quality: int = option(90, "JPEG quality")
    workers: int = option(0, "processes (0 = one per core)")

    def __post_init__(self):
        self.out = Path(self.out)
        unknown = [c for c in self.classes if c not in SHAPES]
        if unknown or not self.classes or len(set(self.classes)) != len(self.classes):
            raise UsageError(f"--classes: need distinct names from {', '.join(SHAPES)}, "
                             f"got {' '.join(self.classes) or 'none'}")
        if min(self.count, self.holdout, self.pool) < 0 or self.count + self.holdout == 0:
            raise UsageError("--count/--holdout/--pool must be >= 0 and make some pictures")
        if not 1 <= self.min_objects <= self.max_objects:
            raise UsageError("need 1 <= --min-objects <= --max-objects")
        if not 0.02 <= self.min_scale <= self.max_scale <= 0.9:
            raise UsageError("need 0.02 <= --min-scale <= --max-scale <= 0.9")
        if self.size < 32:
            raise UsageError(f"--size must be >= 32, got {self.size}")


def picture_rng(seed: int, split: str, index: int):
    import numpy as np

    return np.random.default_rng([seed, SPLITS[split][1], index])


def _one_picture(options: SynthOptions, split: str, index: int) -> Annotation:
    """Draw, save JPEG (+ XML) of picture `index` of `split`; return its annotation."""
    rng = picture_rng(options.seed, split, index)
    count = int(rng.integers(options.min_objects, options.max_objects + 1))
    if split == "pool":  # image-level label: one class per picture
        names = [options.classes[index % len(options.classes)]] * count
    else:
        names = [options.classes[i] for i in rng.integers(0, len(options.classes), count)]
    image, shapes = draw_picture(rng, options.size, names,
                                 (options.min_scale, options.max_scale))
    stem = f"{SPLITS[split][0]}-{index:05d}"
    folder = options.out / split
    truth = folder
    if split == "pool":
        folder = options.out / "pool" / names[0]
        truth = options.out / "pool_truth" / names[0]
    annotation = Annotation(
        filename=f"{stem}.jpg", width=options.size, height=options.size, folder=folder.name,
        boxes=[Box(s.name, s.xmin, s.ymin, s.xmax, s.ymax) for s in shapes],
        source="odhelper demo (synthetic)")
    with files.atomic_path(folder / annotation.filename, suffix=".jpg") as tmp:
        image.save(tmp, "JPEG", quality=options.quality)
    # Our LabelImg writer's text, renamed into place without write_xml's fsync:
    # the whole folder is swapped in at the end (generate), so one fsync per
    # picture would only slow the demo down.
    with files.atomic_path(truth / f"{stem}.xml", suffix=".xml") as tmp:
        tmp.write_text(to_xml(annotation), encoding="utf-8")
    return annotation


def _chunk(args: tuple[SynthOptions, str, int, int]) -> list[Annotation]:
    options, split, start, stop = args
    return [_one_picture(options, split, i) for i in range(start, stop)]


def _tasks(options: SynthOptions):
    for split, total in (("images", options.count), ("holdout", options.holdout),
                         ("pool", options.pool)):
        for start in range(0, total, CHUNK):
            yield options, split, start, min(start + CHUNK, total)


def generate(options: SynthOptions) -> dict:
    """(Re)create `options.out` with every picture and synth.json; return its content.

    The folder is built beside the target and swapped in whole, so no picture
    of an earlier, larger generation survives and an interrupted run leaves
    the old folder intact.
    """
    with files.atomic_dir(options.out) as tmp:
        summary = _generate_into(dataclasses.replace(options, out=tmp))
        summary["options"]["out"] = str(options.out)
        files.write_json(tmp / "synth.json", summary)
    return summary


def _generate_into(options: SynthOptions) -> dict:
    tasks = list(_tasks(options))
    workers = options.workers or min(os.cpu_count() or 1, 8)
    results: dict[str, list[Annotation]] = {split: [] for split in SPLITS}
    if workers <= 1 or len(tasks) <= 1:
        chunks = map(_chunk, tasks)
    else:
        pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)))
        chunks = pool.map(_chunk, tasks)
    try:
        for (_, split, _, _), annotations in zip(tasks, chunks):
            results[split].extend(annotations)
    finally:
        if workers > 1 and len(tasks) > 1:
            pool.shutdown()
    return {"options": to_dict(options),
            "splits": {split: _counts(anns, options.classes) for split, anns in results.items()}}


def _counts(annotations: list[Annotation], classes: list[str]) -> dict:
    boxes = {name: 0 for name in classes}
    images = {name: 0 for name in classes}
    for annotation in annotations:
        for name in {box.name for box in annotation.boxes}:
            images[name] += 1
        for box in annotation.boxes:
            boxes[box.name] += 1
    return {"images": len(annotations), "boxes": sum(boxes.values()),
            "classes": {name: {"images": images[name], "boxes": boxes[name]}
                        for name in classes}}
