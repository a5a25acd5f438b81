#!/usr/bin/env python
"""Quality levers side by side, on one time budget: mAP@0.5 per class of from-scratch
`odhelper run --time T` runs that differ in one lever each.

The data: small objects made from ../shared/datasets (playing_cards or raccoon). Each picture is
shrunk so that its long side is --scale of a 640x480 canvas and pasted at a seeded
random place on a grey, noisy canvas (its boxes moved with it), so an object keeps a few
per cent of the picture side, as objects of a microscopy set do. The set is written to
a temporary folder (removed at the end unless --keep) as a VOC devkit whose lists hold
the split: a seeded --validate-grids x 9 pictures validate, in the plain set and, pasted
into whole grids, in the pasted sets, so every lever is scored on the same objects. It is
converted once by `odhelper tfrecord --split-from imagesets`, then each lever trains in
its own run folder:

  template   --image-size 160 --anchors template  (the template as it is)
  size       --anchors template                   (input size fitted to the boxes)
  fitted     (defaults: input size and anchors fitted)
  pasted     the fitted run on the set pasted 3x3 into 1920x1440 pictures (each object
             keeps its pixels, so it is 3x smaller at a fixed input): whole pictures
  tiled      the same pasted set with --tile 640, scored on whole pictures by tiles
             (evaluate --tile 640)

Usage: scripts/bench_quality.py [--source cards|raccoon] [--scale 0.25] [--time 8m]
       [--levers template,size,fitted] [--validate-grids 4] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from bench_support import SHARED, odhelper, work_folder

SOURCES = {"cards": SHARED / "playing_cards" / "images", "raccoon": SHARED / "raccoon"}
LEVERS = {
    "template": ["--image-size", "160", "--anchors", "template"],
    "size": ["--anchors", "template"],
    "fitted": [],
    "pasted": [],
    "tiled": [],
}
PASTED = {"pasted": [], "tiled": ["--tile", "640"]}  # the tfrecord options of their sets
TILE_SCORE = "tiled"  # scored on whole pictures by evaluate --tile
CANVAS = (640, 480)
SIDE = 3  # pasted pictures are SIDE x SIDE canvases


def _boxes(xml: Path) -> list[tuple[str, float, float, float, float]]:
    found = []
    for item in ET.parse(xml).getroot().iter("object"):
        box = item.find("bndbox")
        found.append((item.findtext("name"), *(float(box.findtext(k)) for k in
                                               ("xmin", "ymin", "xmax", "ymax"))))
    return found


def _write_xml(path: Path, picture: str, boxes: list, size: tuple = CANVAS) -> None:
    objects = "".join(
        f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x0:.0f}</xmin>"
        f"<ymin>{y0:.0f}</ymin><xmax>{x1:.0f}</xmax><ymax>{y1:.0f}</ymax></bndbox></object>"
        for name, x0, y0, x1, y1 in boxes)
    path.write_text(f"<annotation><filename>{picture}</filename><size><width>{size[0]}"
                    f"</width><height>{size[1]}</height><depth>3</depth></size>{objects}"
                    "</annotation>")


def _picture_of(xml: Path) -> Path | None:
    name = ET.parse(xml).getroot().findtext("filename") or ""
    for folder in (xml.parent, xml.parent.parent / "images"):
        found = [p for p in folder.glob(Path(name).stem + ".*") if p.suffix != ".xml"]
        if found:
            return found[0]
    return None


def _write_lists(devkit: Path, validate: set[str], names: list[str]) -> None:
    """ImageSets/Main/{train,val}.txt of a devkit: `validate` names validate, the rest train."""
    lists = devkit / "ImageSets" / "Main"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "val.txt").write_text("".join(f"{n}\n" for n in names if n in validate))
    (lists / "train.txt").write_text("".join(f"{n}\n" for n in names if n not in validate))


def make_small_objects(source: Path, out: Path, scale: float, validate: int,
                       seed: int = 0) -> int:
    """The shrunk set, a devkit in `out` with `validate` seeded pictures in val.txt; the
    number of pictures."""
    import numpy as np
    from PIL import Image

    rng, noise = random.Random(seed), np.random.default_rng(seed)
    for folder in ("Annotations", "JPEGImages"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    names = []
    for xml in sorted(source.rglob("*.xml")):
        picture = _picture_of(xml)
        if picture is None:
            continue
        image = Image.open(picture).convert("RGB")
        factor = scale * CANVAS[0] / max(image.size)
        small = image.resize((max(1, round(image.width * factor)),
                              max(1, round(image.height * factor))), Image.LANCZOS)
        canvas = Image.fromarray(noise.normal(120, 25, (CANVAS[1], CANVAS[0], 3))
                                 .clip(0, 255).astype("uint8"))
        left = rng.randint(0, CANVAS[0] - small.width)
        top = rng.randint(0, CANVAS[1] - small.height)
        canvas.paste(small, (left, top))
        name = f"card_{len(names):04d}"
        canvas.save(out / "JPEGImages" / f"{name}.jpg", quality=92)
        _write_xml(out / "Annotations" / f"{name}.xml", f"{name}.jpg", [
            (label, left + x0 * factor, top + y0 * factor, left + x1 * factor, top + y1 * factor)
            for label, x0, y0, x1, y1 in _boxes(xml)])
        names.append(name)
    _write_lists(out, set(random.Random(seed).sample(names, validate)), names)
    return len(names)


def grid_picture(devkit: Path, members: list[str], side: int = SIDE):
    """The devkit pictures `members` (same-sized canvases) pasted side x side, row by row,
    into one picture; (the picture, its boxes moved with them)."""
    from PIL import Image

    canvas = Image.new("RGB", (CANVAS[0] * side, CANVAS[1] * side))
    boxes = []
    for place, member in enumerate(members):
        left, top = (place % side) * CANVAS[0], (place // side) * CANVAS[1]
        canvas.paste(Image.open(devkit / "JPEGImages" / f"{member}.jpg"), (left, top))
        boxes += [(label, left + x0, top + y0, left + x1, top + y1)
                  for label, x0, y0, x1, y1 in _boxes(devkit / "Annotations" / f"{member}.xml")]
    return canvas, boxes


def paste_grid(source: Path, out: Path, side: int = SIDE) -> int:
    """side x side pictures of the devkit `source` (same-sized canvases) pasted into one,
    boxes moved with them, validation pictures only with each other (the same split);
    a devkit in `out`, the number of pictures written."""
    for folder in ("Annotations", "JPEGImages"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    lists = source / "ImageSets" / "Main"
    validate_names = set()
    names = []
    for list_name in ("train", "val"):
        members = (lists / f"{list_name}.txt").read_text().split()
        for start in range(0, len(members) - side * side + 1, side * side):
            canvas, boxes = grid_picture(source, members[start:start + side * side], side)
            name = f"grid_{len(names):04d}"
            canvas.save(out / "JPEGImages" / f"{name}.jpg", quality=92)
            _write_xml(out / "Annotations" / f"{name}.xml", f"{name}.jpg", boxes,
                       (CANVAS[0] * side, CANVAS[1] * side))
            names.append(name)
            if list_name == "val":
                validate_names.add(name)
    _write_lists(out, validate_names, names)
    return len(names)


def _tiled_metrics(run: Path) -> dict:
    return json.loads((run / "eval" / "tiled" / "metrics.json").read_text())["metrics"]


def _best(run: Path) -> dict:
    record = json.loads((run / "best" / "best.json").read_text())
    return record.get("metrics", {}) | {"step": record.get("step")}


def _fitted(run: Path) -> str:
    import yaml

    options = yaml.safe_load((run / "run.yaml").read_text())
    return f"input {options.get('image_size')}, {options.get('steps')} steps"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time", default="8m")
    parser.add_argument("--levers", default=",".join(LEVERS))
    parser.add_argument("--source", choices=SOURCES, default="cards")
    parser.add_argument("--scale", type=float, default=0.25,
                        help="source picture's long side / canvas width")
    parser.add_argument("--validate-grids", type=int, default=4,
                        help=f"validation pictures: this many {SIDE}x{SIDE} grids' worth")
    parser.add_argument("--keep", type=Path, help="folder to keep everything in")
    args = parser.parse_args()
    source = SOURCES[args.source]
    if not source.is_dir():
        print(f"skipped: {source} is absent")
        return 0
    with work_folder(args.keep, "odhelper-quality-") as work:
        validate = args.validate_grids * SIDE * SIDE
        pictures = make_small_objects(source, work / "pictures", args.scale, validate)
        odhelper("tfrecord", "-i", str(work / "pictures"), "-o", str(work / "dataset"),
                 "--split-from", "imagesets", log=work / "tfrecord.log")
        print(f"{pictures} pictures of {CANVAS[0]}x{CANVAS[1]}, {args.source} pictures at "
              f"{args.scale:.0%} of the width, {validate} of them validate; budget "
              f"{args.time} per lever")
        rows = {}
        for lever in args.levers.split(","):
            run, dataset = work / f"run-{lever}", work / "dataset"
            if lever in PASTED:
                if not (work / "pasted").is_dir():
                    paste_grid(work / "pictures", work / "pasted")
                dataset = work / f"dataset-{lever}"
                odhelper("tfrecord", "-i", str(work / "pasted"), "-o", str(dataset),
                         "--split-from", "imagesets", *PASTED[lever],
                         log=work / f"tfrecord-{lever}.log")
            seconds = odhelper("run", "-m", "ssd_mobilenet_v2_cpu", "--from-scratch", "-d",
                               str(dataset), "-r", str(run), "--time", args.time,
                               "--no-report", *LEVERS[lever], log=work / f"{lever}.log")
            metrics = _tiled_metrics(run) if lever == TILE_SCORE else _best(run)
            rows[lever] = (metrics, seconds, _fitted(run))
        classes = sorted({k.rsplit("/", 1)[1] for metrics, _, _ in rows.values()
                          for k in metrics if "PerformanceByCategory/AP@0.5IOU/" in k})
        print(f"{'lever':<10} {'mAP@0.5':>8} " + " ".join(f"{c:>6}" for c in classes)
              + "  seconds  fitted")
        base = None
        for lever, (metrics, seconds, fitted) in rows.items():
            value = metrics.get("PascalBoxes_Precision/mAP@0.5IOU", float("nan"))
            base = value if base is None else base
            per_class = " ".join(
                f"{metrics.get(f'PascalBoxes_PerformanceByCategory/AP@0.5IOU/{c}', 0):6.3f}"
                for c in classes)
            ratio = f" (x{value / base:.2f} of {next(iter(rows))})" if base else ""
            print(f"{lever:<10} {value:8.3f} {per_class}  {seconds:7.0f}  {fitted}{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
