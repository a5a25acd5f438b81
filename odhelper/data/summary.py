"""Counts per class and split: the dataset.json record and the original helper tool's log table."""
from __future__ import annotations

from odhelper import log
from odhelper.constants import MIN_OBJECT_PX, TEMPLATE_MAX_BOXES
from odhelper.options.data import TfrecordOptions
from odhelper.data import boxstats, tiles
from odhelper.data.problems import Report, problem


def class_counts(label_ids: dict[str, int], parts: dict[str, list]) -> list[dict]:
    counts = {name: {f"{side}_{what}": 0 for side in parts for what in ("images", "boxes")}
              for name in label_ids}
    for side, items in parts.items():
        for item in items:
            for box in item.boxes:
                counts[box.name][f"{side}_boxes"] += 1
            for name in {box.name for box in item.boxes}:
                counts[name][f"{side}_images"] += 1
    return [{"id": number, "name": name, **counts[name]}
            for name, number in sorted(label_ids.items(), key=lambda kv: kv[1])]


def dataset_record(options: TfrecordOptions, label_ids: dict[str, int], parts: dict[str, list],
                   shard_names: dict[str, list[str]], report: Report, fingerprint: str,
                   annotations_found: int) -> dict:
    """The dataset.json content (the contract read by `odhelper run`)."""
    splits = {}
    for side, items in parts.items():
        splits[side] = {
            "images": len(items),
            "boxes": sum(len(i.boxes) for i in items),
            "background": sum(1 for i in items if not i.boxes),
            "bytes": sum(i.nbytes for i in items),
            "shards": shard_names.get(side, []),
        }
    return {
        "name": options.dataset_name,
        "seed": options.seed,
        **_ratios(options, parts),
        "fingerprint": fingerprint,
        "input": str(options.input.resolve()),
        "images_dir": str(options.images.resolve()) if options.images else None,
        "annotations_found": annotations_found,
        "label_map": "label_map.pbtxt",
        "classes": class_counts(label_ids, parts),
        "splits": splits,
        "max_boxes_per_image": max((len(i.boxes) for items in parts.values() for i in items),
                                   default=0),
        "box_stats": boxstats.statistics(label_ids, parts, options.seed, options.tile),
        "problem_counts": report.counts(),
        "problems": report.to_list(),
        "options": {k: v for k, v in options.affecting_output().items()
                    if k not in ("input", "images")},
    }


def _ratios(options: TfrecordOptions, parts: dict[str, list]) -> dict[str, float]:
    """The train (and test) share: -sr's, or the one the split lists gave."""
    if options.split_from == "ratio":
        train, test = options.train_fraction, options.test_fraction
    else:
        total = max(1, sum(len(items) for items in parts.values()))
        train, test = len(parts["train"]) / total, len(parts.get("test", ())) / total
    return {"ratio": round(train, 6), **({"test_ratio": round(test, 6)} if test else {})}


def table_lines(content: dict) -> list[str]:
    """`ID  NAME  Train  Validate [Test]` per class (images / boxes), then totals."""
    sides = [s for s in ("train", "validate", "test") if s in content["splits"]]
    rows = [(str(c["id"]), c["name"],
             *(f"{c.get(f'{s}_images', 0)} img / {c.get(f'{s}_boxes', 0)} box" for s in sides))
            for c in content["classes"]]
    splits = content["splits"]
    if any(splits[s].get("background") for s in sides):
        rows.append(("", "(background)",
                     *(f"{splits[s].get('background', 0)} img / 0 box" for s in sides)))
    rows.append(("", "TOTAL", *(f"{splits[s]['images']} img / {splits[s]['boxes']} box"
                                for s in sides)))
    header = ("ID", "NAME", *(s.capitalize() for s in sides))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    return [line.format(*header).rstrip()] + [line.format(*row).rstrip() for row in rows]


def record_tiles(content: dict, options: TfrecordOptions, examples: dict) -> None:
    """dataset.json with --tile: its `tile` record, and each split's records are tiles."""
    content["tile"] = {"size": options.tile, "overlap": options.tile_overlap,
                       **{key: sum(examples[key].values()) for key in examples
                          if key != "records"}}
    for side, count in examples["records"].items():
        content["splits"][side]["records"] = count


def log_table(content: dict) -> None:
    for text in table_lines(content):
        log.info("%s", text)
    if content.get("box_stats", {}).get("classes"):
        log.info("Box sizes (median; the pixels of the short side at a square model input; "
                 "'!': under %d px, too small to match an anchor well):", MIN_OBJECT_PX)
        for text in boxstats.table_lines(content["box_stats"]):
            log.info("%s", text)
    if content.get("tile"):
        splits = content["splits"]
        tile = content["tile"]
        log.info("Cut into %d px tiles (overlap %.0f%%; box sizes above: of a tile): %s; "
                 "%d pieces of boxes cut by a tile edge dropped (under %.0f%% of the box "
                 "inside), %d empty training tiles left out (1 in %d kept as background)",
                 tile["size"], tile["overlap"] * 100, ", ".join(
                     f"{side} {part.get('records', 0)} tiles of {part['images']} pictures"
                     for side, part in splits.items()), tile["box_pieces_dropped"],
                 tiles.MIN_VISIBLE * 100, tile["empty_tiles_left_out"], tiles.EMPTY_KEPT)


def report_crowded(parts: dict[str, list], report: Report) -> None:
    """Pictures with more boxes than the templates' max_number_of_boxes (a warning:
    the config made for this dataset raises its limit to fit them)."""
    for items in parts.values():
        for item in items:
            if len(item.boxes) > TEMPLATE_MAX_BOXES:
                report.add(problem(item.xml, "many_boxes", (
                    f"{item.image_name} has {len(item.boxes)} boxes, more than the "
                    f"templates' max_number_of_boxes {TEMPLATE_MAX_BOXES}")))
