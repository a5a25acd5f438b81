"""`odhelper tfrecord` as a library: discover -> annotations -> split -> shards -> outputs.

    build_dataset(TfrecordOptions) -> dict      (the dataset.json content)
    dataset_is_current(TfrecordOptions) -> bool (fingerprint matches, shards present)

The new dataset is written into a staging folder and swapped in as a whole when it
is complete (odhelper/datasetdir.py): a killed conversion leaves the previous
dataset as it was. Each image is read for its perceptual hash before the split
(near_duplicates.py), then by the shard writer (see worker.py for the two passes).
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import math
import random
import time
from pathlib import Path
from typing import Callable

from odhelper import __version__, files, log
from odhelper.data import (background, balance, claims, csvout, discover, formats,
                           imagesets, keep, labelmap, near_duplicates, pools, recordio, split,
                           summary, worker)
from odhelper.options.data import TfrecordOptions
from odhelper.data.problems import Report, problem
from odhelper.datasetdir import PICTURES_CSV, DatasetDir, DatasetSummary
from odhelper.errors import OdhelperError, UsageError
from odhelper.rundir import LABEL_MAP

FORMAT_VERSION = 2  # 2: box statistics, near-duplicates grouped, <side>.phash written
SHARD_BYTES = 100 * 1024 * 1024  # a split of S bytes: floor(S / this) shards, 100-200 MB each


def fingerprint(options: TfrecordOptions, index: discover.FileIndex) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"format": FORMAT_VERSION, **options.affecting_output()},
                             sort_keys=True).encode())
    digest.update(discover.fingerprint_files(index).encode())
    if options.label_map:
        digest.update(Path(options.label_map).read_bytes())
    digest.update(background.fingerprint(options.negatives).encode())
    return digest.hexdigest()


def dataset_is_current(options: TfrecordOptions) -> bool:
    """True when the dataset folder was built from these inputs with these options."""
    try:
        recorded = DatasetDir(options.output).summary()
        index = formats.index(options)
    except OdhelperError:  # no usable dataset, input gone or changed kind: rebuild
        return False
    return recorded.fingerprint == fingerprint(options, index)


def _select(items: list[worker.Item], report: Report, lists: imagesets.Lists | None,
            merge_case: bool = False):
    """Usable items (one annotation per image: `claims.keep`; in the split lists, if
    any), grouped by twin key; pass 1's problems reported."""
    for item in items:
        report.extend(item.problems)
        item.problems = []  # reported; pass 2 brings its own
    chosen = claims.keep([item for item in items if item.usable], report)
    if lists is not None:
        chosen = lists.keep_listed(chosen, report)
    labelmap.report_similar_names(chosen, merge_case)
    groups: dict[str, list[worker.Item]] = {}
    for item in chosen:
        groups.setdefault(item.twin_key, []).append(item)
    return chosen, groups


def _report_twins(parts: dict[str, list[worker.Item]], report: Report) -> None:
    """Byte-identical images, found by their SHA-256 (computed while writing)."""
    groups: dict[str, list[worker.Item]] = {}
    sides: dict[str, set[str]] = {}
    for side, items in parts.items():
        for item in items:
            groups.setdefault(item.sha256, []).append(item)
            sides.setdefault(item.sha256, set()).add(side)
    for sha, twins in groups.items():
        if len(twins) > 1:
            twins.sort(key=lambda t: t.image_name)
            names = ", ".join(t.image_name for t in twins[:4]) + (
                f" and {len(twins) - 4} more" if len(twins) > 4 else "")
            reason = "identical_images" if len(sides[sha]) == 1 else "identical_across_splits"
            for twin in twins:
                report.add(problem(twin.xml, reason, f"same bytes as: {names}"))


def _split(groups: dict[str, list[worker.Item]], options: TfrecordOptions,
           kept: keep.KeptValidation | None, lists: imagesets.Lists | None) -> dict[str, list]:
    if lists is not None:  # a VOC devkit's own lists
        parts = lists.parts(groups)
    else:
        parts = _stratified(groups, options, kept)
    for side, items in parts.items():  # a seeded, order-independent shuffle
        items.sort(key=lambda i: (i.twin_key, i.image_name))
        random.Random(f"{options.seed}:{side}").shuffle(items)
    return parts


def _stratified(groups: dict[str, list[worker.Item]], options: TfrecordOptions,
                kept: keep.KeptValidation | None) -> dict[str, list]:
    if kept is not None:  # validation is the kept one: everything new trains
        sides = {key: split.TRAIN for key in groups}
    elif options.fold:  # audit's folds: fold k validates, the others train
        sides = split.fold_sides(_units(groups), *options.fold, options.seed)
    else:
        sides = split.split_three(_units(groups), 1.0 - options.train_fraction
                                  - options.test_fraction, options.test_fraction, options.seed)
    parts: dict[str, list[worker.Item]] = {split.TRAIN: [], split.VALIDATE: []}
    if options.test_fraction and kept is None:
        parts[split.TEST] = []
    for key, twins in groups.items():
        parts[sides[key]].extend(twins)
    return parts


def _units(groups: dict[str, list[worker.Item]]) -> list[split.Unit]:
    units = []
    for key, twins in groups.items():
        unit = split.Unit(key, len(twins))
        for twin in twins:
            for name in {b.name for b in twin.boxes}:
                unit.class_images[name] = unit.class_images.get(name, 0) + 1
            for box in twin.boxes:
                unit.class_boxes[box.name] = unit.class_boxes.get(box.name, 0) + 1
            if not twin.boxes:  # background: stratified like a class
                unit.class_images[background.SPLIT_KEY] = \
                    unit.class_images.get(background.SPLIT_KEY, 0) + 1
        units.append(unit)
    return units


def _shard_counts(parts: dict[str, list], options: TfrecordOptions) -> dict[str, int]:
    sizes = {side: sum(i.nbytes for i in items) for side, items in parts.items()}
    counts = {}
    for side, items in parts.items():
        if not items:
            counts[side] = 0
        elif options.shards and side == split.TRAIN:
            counts[side] = options.shards
        elif options.shards:
            share = sizes[side] / max(1, sizes[split.TRAIN])
            counts[side] = math.ceil(options.shards * share)
        else:
            counts[side] = sizes[side] // SHARD_BYTES
        counts[side] = max(1 if items else 0, min(counts[side], len(items)))
    return counts


def _write_shards(parts, counts, label_ids, pool, output: Path
                  ) -> tuple[dict[str, list[str]], list[tuple]]:
    """Write all shards to temp files (in the pool if any). Items are numbered train
    first, then validate (as in the workers' `context.items`). Returns the shard
    names per side and (side, items, write_shard's result) per shard."""
    names, shards, base = {}, [], 0
    for side, items in parts.items():
        names[side] = recordio.shard_names(side, counts[side])
        for number, name in enumerate(names[side]):
            numbers = list(range(base + number, base + len(items), counts[side]))
            shards.append((side, items[number::counts[side]], str(output / name), numbers))
        base += len(items)
    bar = log.progress(total=base, desc="write", unit="img")
    results = []
    try:
        written = pools.run(pool, worker.write_shard, [s[2] for s in shards],
                            [s[3] for s in shards], [label_ids] * len(shards))
        for (side, items, _, _), result in zip(shards, written):
            results.append((side, items, result))
            bar.update(len(items))
    finally:
        bar.close()
    return names, results


def _written(results: list[tuple], sides, report: Report) -> dict[str, list[worker.Item]]:
    """Take in what the writers found; the items whose records were written, per side."""
    parts: dict[str, list[worker.Item]] = {side: [] for side in sides}
    seen: set[str] = set()
    for side, items, result in results:
        for item, outcome in zip(items, result["outcomes"]):
            worker.apply_outcome(item, outcome)
            if item.image_path in seen:  # a --balance copy
                continue
            seen.add(item.image_path)
            report.extend(item.problems)
            if item.usable:
                parts[side].append(item)
    return parts


def _commit(results: list[tuple]) -> None:
    """All shards complete: give them their names (in the staging folder)."""
    for _, _, result in results:
        recordio.commit(Path(result["temp"]), Path(result["target"]))


def _label_ids(options: TfrecordOptions, items) -> dict[str, int]:
    if options.label_map:
        return labelmap.read(options.label_map)
    return labelmap.generate(b.name for item in items for b in item.boxes)


def _small_outputs(label_ids, parts, output: Path, root: Path) -> None:
    """label_map.pbtxt, train.csv, validate.csv, pictures.csv, validate.sha256."""
    labelmap.write(label_ids, output / LABEL_MAP)
    for side, side_items in parts.items():
        csvout.write(csvout.rows(side_items), output / f"{side}.csv")
    csvout.write_pictures(csvout.picture_rows(parts, root), output / PICTURES_CSV)
    keep.write_index(parts, output)


def _context(options: TfrecordOptions, index, kept) -> worker.Context:
    classes = frozenset(labelmap.read(options.label_map)) if options.label_map else None
    return worker.Context(index, options.images, classes, options.skip_difficult,
                          options.verify_pixels, options.background,
                          hash_early=kept is not None, max_pixels=options.max_pixels,
                          tile=options.tile, tile_overlap=options.tile_overlap)


def _nothing_usable(options: TfrecordOptions, found: int, report: Report) -> OdhelperError:
    report.log_summary()
    unpaired = next((p for p in report.sorted() if p.reason in ("missing_image",
                                                                 "ambiguous_image")), None)
    hint = f"; e.g. {unpaired.file}: {unpaired.detail}" if unpaired else ""
    return OdhelperError(f"{options.input}: nothing usable: all {found} annotations have "
                         f"problems ({', '.join(report.counts())}){hint}")


def _plan(items, options: TfrecordOptions, report: Report, kept, found: int, lists):
    """Pass 1's items -> (label ids, items per side, shard counts)."""
    chosen, groups = _select(items, report, lists, options.merge_case)
    if not chosen:
        raise _nothing_usable(options, found, report)
    label_ids = _label_ids(options, chosen)
    labelmap.refuse_unparsable(label_ids, lambda name: options.label_map or next(
        item.xml for item in chosen if any(b.name == name for b in item.boxes)))
    if kept is not None:
        groups = kept.exclude(groups, report)
    groups, near = near_duplicates.merge(groups)
    near.log(together=lists is None)
    parts = _split(groups, options, kept, lists)
    plan = None
    if options.balance != "none":  # training side only
        plan = balance.plan(parts[split.TRAIN], options.balance, options.balance_threshold,
                            options.seed)
        balance.log_table(plan)
        parts[split.TRAIN] = balance.expand(parts[split.TRAIN], plan, options.seed)
    return label_ids, parts, _shard_counts(parts, options), plan, near


def _warn_empty_sides(parts: dict[str, list]) -> None:
    usable = sum(len(items) for items in parts.values())
    for side, side_items in parts.items():
        if not side_items:
            log.warning("The %s split is empty (%d usable images): no %s records",
                        side, usable, side)


def _second_pass(context: worker.Context, options: TfrecordOptions, label_ids, parts,
                 counts, report: Report, found: int, output: Path):
    """Write the shards (each image read once) into `output`; (names, written items)."""
    clock = time.perf_counter()
    # A pool forked now inherits the planned items: they need not be sent.
    context.items = [item for side_items in parts.values() for item in side_items]
    try:
        with pools.running(options, context, len(context.items)) as pool:
            names, results = _write_shards(parts, counts, label_ids, pool, output)
        parts = _written(results, parts, report)
        if not any(parts.values()):
            raise _nothing_usable(options, found, report)
        _commit(results)
        context.examples = {key: {side: sum(r[key] for s, _, r in results if s == side)
                                  for side in parts} for key in worker.EXAMPLE_COUNTS}
    finally:
        recordio.clean_temp_files(output)
    log.info("Wrote %d shards, %d images, %.0f MB, in %.2f s", sum(counts.values()),
             sum(len(items) for items in parts.values()),
             sum(i.nbytes for items in parts.values() for i in items) / 1e6,
             time.perf_counter() - clock)
    return names, parts


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off in this process for the conversion: the
    items live to the end and form no cycles, yet every full collection would scan
    them all again. (Pool workers collect as usual: worker.install_in_pool.)"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_dataset(options: TfrecordOptions,
                  accept: Callable[[DatasetSummary], None] | None = None) -> dict:
    """Convert the annotations; return (and write) the dataset.json content. One
    writer at a time: another process converting into the same folder is refused.
    `accept` sees the new dataset before it replaces the folder's one and may refuse
    it (raise): the folder is then left as it was."""
    if not options.input.exists():
        raise OdhelperError(f"{options.input}: input not found")
    if options.images is not None and not options.images.is_dir():
        raise UsageError(f"{options.images}: --images folder not found")
    folder = DatasetDir(options.output)
    with folder.opened("tfrecord", options, ("TF Record Generator", "conversion"),
                       input=options.input, output=options.output) as opened, \
            _collector_paused():
        content = _build_dataset(options, folder, accept)
        for side, part in content["splits"].items():
            opened.stage.extra[f"{side} images"] = part["images"]
        opened.stage.extra["problems"] = len(content["problems"])
    return content


def _build_dataset(options: TfrecordOptions, folder: DatasetDir, accept) -> dict:
    output = options.output
    recordio.clean_temp_files(output)  # shards of a killed run of an older version
    files.remove_all_leftovers(output)
    kept = keep.KeptValidation.load(options.keep_validate, output) \
        if options.keep_validate else None
    index = formats.index(options)
    staging = folder.new_staging()
    try:
        content = _convert(options, index, kept, staging)
        folder.commit(staging, accept)
    except BaseException:
        if not folder.journal.exists():  # else the next reader finishes the commit
            folder.discard(staging)
        raise
    copied = labelmap.copy_to_checkout(options.copy_label_map, options.dataset_name,
                                       folder.label_map)
    if copied:
        log.info("Label map copied to %s", copied)
    return content


def _convert(options: TfrecordOptions, index, kept, output: Path) -> dict:
    report = Report(strict=options.strict)
    context = _context(options, index, kept)
    lists = imagesets.announce(imagesets.find(index), str(index.roots[0]), options.split_from,
                               index.kind)
    items = formats.first_pass(options, index, context)
    found = len(items)
    if options.negatives:
        items += background.negative_items(options.negatives, context.hash_early)
    near_duplicates.hash_items(items, options, context)
    label_ids, parts, counts, plan, near = _plan(items, options, report, kept, found, lists)
    planned = parts[split.TRAIN]  # with the --balance copies
    shard_names, parts = _second_pass(context, options, label_ids, parts, counts, report, found,
                                      output)
    _warn_empty_sides(parts)
    background.warn_share(parts[split.TRAIN])
    _report_twins(parts, report)
    summary.report_crowded(parts, report)
    _small_outputs(label_ids, parts, output, index.roots[0])
    content = summary.dataset_record(options, label_ids, parts, shard_names, report,
                                     fingerprint(options, index), found)
    if kept is not None:
        kept.patch_record(content)
    if plan is not None:
        content["balance"] = plan.to_dict()
        usable = {item.image_path for item in parts[split.TRAIN]}
        content["splits"][split.TRAIN]["records"] = sum(i.image_path in usable for i in planned)
    if options.tile:
        summary.record_tiles(content, options, context.examples)
    content["near_duplicates"] = near.to_dict()
    content["label_map_copy"] = labelmap.checkout_copy(options.copy_label_map,
                                                       options.dataset_name)
    content["odhelper_version"] = __version__
    if kept is not None:  # after our CSVs: its validate.csv replaces ours
        kept.copy_into(output)
    DatasetDir(output).write_summary(content)
    report.log_summary()
    summary.log_table(content)
    return content
