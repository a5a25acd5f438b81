"""`odhelper active-learn`: round 0 trains on the boxed set; each later round lets
the model label the image-level pool, adds what it adopted to the training side
(validation stays the human-boxed split, byte for byte) and trains S more steps.

The folder (rundir.ActiveDir): active.json (every round: adoptions, metrics,
sizes; the resume point), inputs/ (the boxed XML folder linked, adopted/<class>/),
dataset-0/ (the boxed set), dataset-N/ (round N: boxed train + adopted, validate
copied from dataset-0), review/<class>/ (--review candidates), train/ (the run).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

from odhelper import log
from odhelper.constants import COCO_MAP, PASCAL_MAP50
from odhelper.active import labels
from odhelper.active.adopt import Candidate, adopt
from odhelper.active.pool import PoolImage, scan_pool
from odhelper.active.state import ActiveState, RoundRecord
from odhelper.active.table import adoption_table
from odhelper.errors import UsageError
from odhelper.options.training import ActiveOptions, RunOptions
from odhelper.datasetdir import DatasetDir
from odhelper.rundir import ActiveDir

HEADLINE = (PASCAL_MAP50, COCO_MAP)


def _inputs(options: ActiveOptions) -> Path:
    """RUN/inputs: the boxed folder (linked, never copied or written) + adopted/."""
    folder = ActiveDir(options.run_dir)
    folder.adopted.mkdir(parents=True, exist_ok=True)
    if not folder.boxed.exists():
        os.symlink(options.input.resolve(), folder.boxed, target_is_directory=True)
    return folder.inputs


def _build(options: ActiveOptions, round_number: int) -> dict:
    from odhelper.data.build import build_dataset, dataset_is_current
    from odhelper.options.data import TfrecordOptions

    first, folder = round_number == 0, ActiveDir(options.run_dir)
    tfrecord = TfrecordOptions(
        input=options.input if first else _inputs(options),
        output=folder.dataset(round_number), split_ratio=options.split_ratio,
        seed=options.seed, copy_label_map=False,
        keep_validate=None if first else folder.dataset(0))
    if dataset_is_current(tfrecord):
        return DatasetDir(tfrecord.output).summary().raw
    content = build_dataset(tfrecord)
    for old in folder.datasets():  # keep dataset-0 and this one
        if old not in (folder.dataset(0), tfrecord.output):
            shutil.rmtree(old, ignore_errors=True)
    return content


def _train(options: ActiveOptions, round_number: int) -> dict[str, float]:
    """Train up to this round's total steps; the last evaluation's metrics."""
    from odhelper.workflows.run import run

    folder = ActiveDir(options.run_dir)
    result = run(RunOptions(
        model=options.model, steps=options.steps_after(round_number),
        dataset=folder.dataset(round_number), run_dir=folder.training.root,
        eval_every=options.eval_every or (options.initial_steps if round_number == 0
                                          else options.steps_per_round),
        batch_size=options.batch_size,
        weights=options.weights, from_scratch=options.from_scratch,
        set=options.set, seed=options.seed, report=False, image_size=options.image_size,
        anchors=options.anchors, **dataclasses.asdict(options.augmentation)))
    return result.last_metrics


def _predict(options: ActiveOptions, remaining: list[PoolImage],
             round_number: int) -> list[Candidate]:
    """Detect on the remaining pool with the last export; the pictures to adopt.
    No box under --box-threshold is needed: it is the score rule for every class."""
    from odhelper import thresholds
    from odhelper.engine import predictor

    model = predictor.load_model(ActiveDir(options.run_dir).training.root)
    rule = thresholds.decide(model.folder, options.box_threshold)
    by_name = {image.path.relative_to(options.pool).as_posix(): image for image in remaining}
    problems: list = []
    candidates = []
    for prediction in log.progress(
            predictor.detect(model, [i.path for i in remaining], options.pool, problems, rule),
            total=len(remaining), desc=f"round {round_number}", unit="img"):
        found = adopt(by_name[prediction.name], prediction, model.class_names,
                      options.threshold, round_number, options.box_threshold)
        if found:
            candidates.append(found)
    for problem in problems:
        log.warning("Pool picture skipped: %s: %s (%s)", problem.file, problem.reason,
                    problem.detail)
    return candidates


def _label_round(options: ActiveOptions, state: ActiveState, round_number: int
                 ) -> tuple[RoundRecord, list[labels.Reviewed]]:
    """Predict on the pool; adopt (or offer for review); the round's record and the
    accepted reviews it took."""
    record = RoundRecord(round_number, options.steps_after(round_number))
    _inputs(options)  # the adopted folder exists
    folder = ActiveDir(options.run_dir)
    reviewed = labels.accepted(folder.review) if options.review else []
    recorded = state.adopted_keys()  # taken by a run killed before it cleared them
    labels.clear_reviewed([r for r in reviewed if r.key in recorded])
    reviewed = [r for r in reviewed if r.key not in recorded]
    if reviewed:
        record.adopted = labels.take_accepted(reviewed, folder.adopted)
    taken = recorded | {k for keys in record.adopted.values() for k in keys}
    remaining = [i for i in scan_pool(options.pool, state.classes) if i.key not in taken]
    with log.stage("Label pool", "labelling", round=round_number,
                   pictures=len(remaining)) as stage:
        candidates = _predict(options, remaining, round_number) if remaining else []
        if options.review:
            record.reviewed = labels.offer_for_review(candidates, folder.review)
        else:
            record.adopted = labels.adopt_into(candidates, folder.adopted)
        stage.extra["adopted"] = sum(len(v) for v in record.adopted.values())
        stage.extra["for review"] = sum(len(v) for v in record.reviewed.values())
    return record, reviewed


def _finish_round(options: ActiveOptions, state: ActiveState, record: RoundRecord) -> None:
    started = time.perf_counter()
    content = _build(options, record.round)
    record.train_images = content["splits"]["train"]["images"]
    if record.round == 0:
        state.boxed_train_images = record.train_images
    record.metrics = _train(options, record.round)
    record.seconds = round(record.seconds + time.perf_counter() - started, 1)
    record.trained = True
    state.save(ActiveDir(options.run_dir).state_file)
    _log_round(state, record)


def _log_round(state: ActiveState, record: RoundRecord) -> None:
    shown = ", ".join(f"{k.split('/')[-1]} {record.metrics[k]:.4f}" for k in HEADLINE
                      if k in record.metrics)
    log.info("Round %d done [ train images : %d, step : %d, %s ]", record.round,
             record.train_images, record.steps, shown or "no evaluation")
    if record.round > 0:
        for line in adoption_table(state):
            log.info(line)


def active_learn(options: ActiveOptions) -> ActiveState:
    """Run (or resume) the rounds; active.json is saved after every step of a round."""
    for given, flag in ((options.input, "-i"), (options.pool, "--pool")):
        if not Path(given).is_dir():  # before round 0's training, not after it
            raise UsageError(f"{given}: {flag} folder not found")
    folder = ActiveDir(options.run_dir)
    with folder.opened("active-learn", options, ("Active learning", "active learning"),
                       rounds=options.rounds):
        return _active_learn(options, folder)


def _active_learn(options: ActiveOptions, folder: ActiveDir) -> ActiveState:
    from odhelper.data.labelmap import read

    state = ActiveState.load(folder.state_file) or ActiveState(
        classes=[], options={"threshold": options.threshold, "review": options.review})
    if not state.rounds or not state.rounds[0].trained:
        record = state.rounds[0] if state.rounds else RoundRecord(0, options.initial_steps)
        state.rounds[:1] = [record]
        _build(options, 0)  # the classes come from the boxed set's label map
        state.classes = sorted(read(DatasetDir(folder.dataset(0)).label_map))
        _finish_round(options, state, record)
    for round_number in range(1, options.rounds + 1):
        record = {r.round: r for r in state.rounds}.get(round_number)
        if record is None:
            record, reviewed = _label_round(options, state, round_number)
            state.rounds.append(record)
            state.save(folder.state_file)  # adoptions are safe before training starts
            labels.clear_reviewed(reviewed)  # only now that active.json holds them
        if not record.trained:
            _finish_round(options, state, record)
    return state
