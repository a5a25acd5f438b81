#!/usr/bin/env python3
"""How well `odhelper audit` finds known label errors, per kind and per time budget.

A copy of a real set (../shared/datasets) gets known corruptions, one per chosen
picture: a class swapped (multi-class sets), a box removed, a box shifted by about
half its size, a spurious box added. Then `odhelper audit -i COPY --time T` runs for
each budget, and the script prints, side by side, the share of corrupted pictures
among the top N (N = the corrupted count, 30, 60) and the recall of each kind within
the top 2N. Pictures are not copied: the XMLs are, beside links to the pictures.

    scripts/bench_audit.py --source cards --corrupt 30 --times 5m,10m --keep DIR
    scripts/bench_audit.py --rescore DIR   # the kept folds' detections, ranked again
    scripts/bench_audit.py --fold-sizes 224,288 --fold-time 200s --rescore DIR
        # a kept audit's fold 1 trained again at each input side: mAP@0.5 and steps
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_support import SHARED, odhelper, work_folder  # noqa: E402

KINDS = ("swap", "removed", "shifted", "spurious")
SOURCES = {"raccoon": SHARED / "raccoon" / "annotations",
           "cards": SHARED / "playing_cards" / "images"}


def _boxes(root):
    return root.findall("object")


def _corrupt_one(root, kind: str, names: list[str], draw: random.Random) -> bool:
    """Apply `kind` to the XML tree `root`; False when it cannot apply here."""
    import xml.etree.ElementTree as ET

    objects = _boxes(root)
    width = int(root.find("size/width").text)
    height = int(root.find("size/height").text)
    if kind in ("swap", "removed", "shifted") and not objects:
        return False
    if kind == "swap":
        target = draw.choice(objects)
        others = [n for n in names if n != target.find("name").text]
        if not others:
            return False
        target.find("name").text = draw.choice(others)
    elif kind == "removed":
        root.remove(draw.choice(objects))
    elif kind == "shifted":
        box = draw.choice(objects).find("bndbox")
        x0, y0, x1, y1 = (float(box.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
        dx = (x1 - x0) * 0.6 * draw.choice((-1, 1))
        dy = (y1 - y0) * 0.6 * draw.choice((-1, 1))
        dx = min(max(dx, -x0), width - 1 - x1)  # stay inside the picture
        dy = min(max(dy, -y0), height - 1 - y1)
        if abs(dx) < (x1 - x0) * 0.3 and abs(dy) < (y1 - y0) * 0.3:
            return False
        for key, value in (("xmin", x0 + dx), ("xmax", x1 + dx), ("ymin", y0 + dy),
                           ("ymax", y1 + dy)):
            box.find(key).text = str(int(round(value)))
    else:  # spurious: a box of a usual size where no box is
        side_w, side_h = width * draw.uniform(0.15, 0.3), height * draw.uniform(0.15, 0.3)
        x0, y0 = draw.uniform(0, width - side_w), draw.uniform(0, height - side_h)
        element = ET.SubElement(root, "object")
        ET.SubElement(element, "name").text = draw.choice(names)
        ET.SubElement(element, "difficult").text = "0"
        box = ET.SubElement(element, "bndbox")
        for key, value in (("xmin", x0), ("ymin", y0), ("xmax", x0 + side_w),
                           ("ymax", y0 + side_h)):
            ET.SubElement(box, key).text = str(int(value))
    return True


def corrupt(source: Path, target: Path, count: int, seed: int = 0,
            kinds: tuple[str, ...] = KINDS) -> dict[str, str]:
    """Copy the XMLs of `source` (any depth) into `target`, each beside a link to its
    picture, corrupting `count` of them (kinds in turn); {XML path relative to target:
    kind}."""
    import xml.etree.ElementTree as ET

    xmls = sorted(Path(source).rglob("*.xml"))
    names = sorted({o.find("name").text for x in xmls for o in ET.parse(x).getroot()
                    .findall("object")})
    kinds = tuple(k for k in kinds if k != "swap" or len(names) > 1)
    draw = random.Random(seed)
    chosen = draw.sample(range(len(xmls)), count)
    truth, turn = {}, 0
    for index, xml in enumerate(xmls):
        tree = ET.parse(xml)
        root = tree.getroot()
        relative = xml.relative_to(source)
        if index in chosen:
            for attempt in range(len(kinds)):
                kind = kinds[(turn + attempt) % len(kinds)]
                if _corrupt_one(root, kind, names, draw):
                    truth[str(relative)] = kind
                    turn += attempt + 1
                    break
        out = Path(target) / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        tree.write(out)
        picture = _picture_of(xml, root.find("filename").text)
        link = out.parent / picture.name
        if not link.exists():
            link.symlink_to(picture)
    return truth


def _picture_of(xml: Path, filename: str) -> Path:
    for folder in (xml.parent, xml.parent.parent / "images"):
        for candidate in folder.iterdir():
            if candidate.name.lower() == filename.lower():
                return candidate.resolve()
    raise SystemExit(f"{xml}: no picture {filename}")


def scores(issues_csv: Path, truth: dict[str, str], root: Path) -> dict:
    """Precision of the top N pictures and recall per kind within the top 2N."""
    ranked = []
    with open(issues_csv, newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            annotation = str(Path(row["annotation"]).resolve().relative_to(root.resolve()))
            if annotation not in ranked:
                ranked.append(annotation)
    corrupted = len(truth)
    found = {"pictures": len(ranked), "corrupted": corrupted}
    for n in sorted({corrupted, 30, 60}):
        found[f"precision@{n}"] = round(sum(a in truth for a in ranked[:n]) / n, 3)
    top = set(ranked[:2 * corrupted])
    for kind in sorted(set(truth.values())):
        wanted = [a for a, k in truth.items() if k == kind]
        found[f"recall {kind}@{2 * corrupted}"] = round(
            sum(a in top for a in wanted) / len(wanted), 3)
    found["recall all@60"] = round(sum(a in set(ranked[:60]) for a in truth) / corrupted, 3)
    return found


def rescore(work: Path) -> dict:
    """Rank the stored fold detections of each audit kept in `work` again, with the
    ranking of this checkout (no training): {budget: scores}."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from odhelper.datasetdir import DatasetDir
    from odhelper.metrics import label_issues
    from odhelper.report.audit_page import write_csv
    from odhelper.rundir import AuditDir
    from odhelper.workflows.audit import fold_results

    truth = json.loads((work / "truth.json").read_text())
    rows = {}
    for out in sorted(work.glob("audit-*/")):
        folder, results, sources = AuditDir(out), [], {}
        for fold in range(1, len(list((out / "folds").glob("fold-*"))) + 1):
            scored, scored_sources = fold_results(folder, fold)
            results += scored
            sources.update(scored_sources)
        names = DatasetDir(folder.fold(1)[0]).summary(check_shards=False).class_names
        ranked = label_issues.rank(results, names)
        csv_path = write_csv(ranked, sources, work / f"rescored-{out.name}.csv")
        rows[out.name.removeprefix("audit-")] = scores(csv_path, truth, work / "data")
    return rows


def fold_sizes(work: Path, sides: str, budget: str) -> dict:
    """Train the first kept audit's fold 1 again at each input side, from scratch within
    `budget`: {side: its final step and validation mAP@0.5}."""
    from odhelper.constants import PASCAL_MAP50
    from odhelper.options.audit import DEFAULT_MODEL
    from odhelper.rundir import AuditDir, RunDir

    dataset = AuditDir(next(work.glob("audit-*/"))).fold(1)[0]
    rows = {}
    for side in sides.split(","):
        run = work / f"fold-1-{side}px"
        odhelper("run", "-m", DEFAULT_MODEL, "-d", str(dataset), "-r", str(run),
                 "--time", budget, "--from-scratch", "--eval-every", "1000000", "--no-export",
                 "--no-report", "--image-size", side, log=work / f"fold-1-{side}px.log")
        last = RunDir(run).history.latest()
        rows[f"{side} px"] = {"steps": last["step"],
                              "mAP@0.5": round(last["metrics"][PASCAL_MAP50], 3)}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=sorted(SOURCES), default="cards")
    parser.add_argument("--corrupt", type=int, default=30, help="pictures corrupted")
    parser.add_argument("--times", default="5m,10m", help="audit budgets, comma-separated")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, help="the folds' input side (default: audit's)")
    parser.add_argument("--keep", type=Path, help="keep the work here")
    parser.add_argument("--rescore", type=Path, help="a --keep folder: rank its audits' "
                        "stored detections again (no training)")
    parser.add_argument("--fold-sizes", help="with --rescore DIR: train its fold 1 again at "
                        "each input side (comma-separated) instead of ranking")
    parser.add_argument("--fold-time", default="200s", help="each --fold-sizes run's budget")
    args = parser.parse_args()
    if args.rescore and args.fold_sizes:
        rows = fold_sizes(args.rescore, args.fold_sizes, args.fold_time)
        for side, row in rows.items():
            print(f"{side:>8}: {row['steps']:5} steps, mAP@0.5 {row['mAP@0.5']}")
        return
    if args.rescore:
        _print(rescore(args.rescore), json.loads((args.rescore / "truth.json").read_text()),
               args.rescore.name)
        return
    if not SOURCES[args.source].is_dir():
        raise SystemExit(f"{SOURCES[args.source]}: the shared datasets are not here")
    with work_folder(args.keep, "bench-audit-") as work:
        copy = work / "data"
        truth = corrupt(SOURCES[args.source], copy, args.corrupt, args.seed)
        (work / "truth.json").write_text(json.dumps(truth, indent=1))
        rows = {}
        size = ["--image-size", str(args.image_size)] if args.image_size else []
        for budget in args.times.split(","):
            out = work / f"audit-{budget}"
            seconds = odhelper("audit", "-i", str(copy), "-o", str(out), "--time", budget,
                               "--folds", str(args.folds), *size,
                               log=work / f"audit-{budget}.log")
            rows[budget] = {"seconds": round(seconds), **scores(out / "label_issues.csv",
                                                                truth, copy)}
        _print(rows, truth, args.source)


def _print(rows: dict, truth: dict, title: str) -> None:
    keys = list(next(iter(rows.values())))
    print(f"{title}: {len(truth)} corrupted pictures "
          f"({', '.join(f'{k} {list(truth.values()).count(k)}' for k in KINDS)})")
    print(f"{'':24}" + "".join(f"{b:>12}" for b in rows))
    for key in keys:
        print(f"{key:24}" + "".join(f"{rows[b].get(key, ''):>12}" for b in rows))


if __name__ == "__main__":
    main()
