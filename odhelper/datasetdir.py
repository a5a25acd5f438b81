"""The dataset folder written by `odhelper tfrecord`: its layout, its typed summary,
and how a new dataset replaces an old one as a whole.

    DATASET/
      dataset.json            the summary (splits, counts, shards, classes, problems)
      label_map.pbtxt         class ids of the records
      train-*.record  validate-*.record  [test-*.record]
      train.csv  validate.csv  [test.csv]     one row per box
      pictures.csv            one row per picture: split, record name, picture and annotation
      validate.sha256  [test.sha256]          one `sha256  name` line per held-out picture
      validate.phash  [test.phash]            one `pHash64 pHash256  name` line per held-out
                                              picture (hex; `-` when it did not decode)
      tfrecord.yaml  odhelper.log  timings.jsonl  .odhelper.lock

This module owns that layout; every other module asks a `DatasetDir` (nobody else
reads dataset.json). A build writes the new dataset into a staging folder inside
DATASET, then `commit` swaps it in: a journal names the files, they are renamed
into place (dataset.json last) and the files of the older dataset that the new one
does not have are removed. Until the journal exists the old dataset is untouched
and usable; a commit cut short is finished by the next reader or writer.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from odhelper import files, lock
from odhelper.errors import OdhelperError

DATASET_JSON = "dataset.json"
LABEL_MAP = "label_map.pbtxt"
PICTURES_CSV = "pictures.csv"
OPTIONS_FILE = "tfrecord.yaml"
JOURNAL = ".commit.json"
STAGING_PREFIX = ".staging-"
SIDES = ("train", "validate", "test")
HELD_OUT = ("validate", "test")  # sides a run's identity and --keep-validate rest on
_CONTENT = re.compile(r"^((train|validate|test)(-.*\.record|\.csv)|"
                      r"(validate|test)\.(sha256|phash)|(label_map\.pbtxt|pictures\.csv)|"
                      r"dataset\.json)$")


def is_content(name: str) -> bool:
    """Whether a file name is part of a dataset (replaced or removed by a new build)."""
    return bool(_CONTENT.match(name))


@dataclass
class SplitSummary:
    images: int
    boxes: int
    shards: list[str]
    background: int = 0
    bytes: int = 0
    records: int | None = None  # with --balance: records written (copies included)

    @property
    def record_count(self) -> int:
        return self.records if self.records is not None else self.images


@dataclass
class DatasetIdentity:
    """What makes two datasets the same for a run: the classes and their ids, and the
    held-out pictures (a training side that only grows is the same dataset)."""
    name: str
    classes: dict[str, int]
    held_out: dict[str, str]  # side -> digest of its pictures' SHA-256 values

    def to_dict(self) -> dict:
        return {"name": self.name, "classes": self.classes, "held_out": self.held_out}

    @classmethod
    def from_dict(cls, data: dict) -> "DatasetIdentity":
        return cls(str(data.get("name", "?")), {str(k): int(v) for k, v in
                                                 data.get("classes", {}).items()},
                   dict(data.get("held_out", {})))

    def differences(self, other: "DatasetIdentity") -> list[str]:
        """What differs, in words (empty when `other` is the same dataset)."""
        found = []
        if self.classes != other.classes:
            found.append(f"label map {_classes_text(self.classes)} vs "
                         f"{_classes_text(other.classes)}")
        for side in HELD_OUT:
            if self.held_out.get(side) != other.held_out.get(side):
                found.append(f"{side} pictures")
        return found


def _classes_text(classes: dict[str, int]) -> str:
    shown = ", ".join(f"{n}={i}" for n, i in sorted(classes.items(), key=lambda kv: kv[1])[:6])
    return "{" + shown + (", ..." if len(classes) > 6 else "") + "}"


@dataclass
class DatasetSummary:
    """dataset.json, typed where readers need it; `raw` keeps everything."""
    folder: Path
    name: str
    fingerprint: str
    classes: list[dict]  # {"id", "name", "<side>_images", "<side>_boxes"}
    splits: dict[str, SplitSummary]
    max_boxes_per_image: int = 0
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def label_map(self) -> Path:
        return self.folder / LABEL_MAP

    def shard_paths(self, side: str) -> list[Path]:
        if side not in self.splits:
            raise OdhelperError(f"{self.folder / DATASET_JSON}: no {side} split"
                                + (" (make one with `odhelper tfrecord -sr 8,1,1`)"
                                   if side == "test" else ""))
        return [self.folder / name for name in self.splits[side].shards]

    @property
    def class_ids(self) -> dict[str, int]:
        return {str(c["name"]): int(c["id"]) for c in self.classes}

    @property
    def class_names(self) -> dict[int, str]:
        return {number: name for name, number in self.class_ids.items()}

    def identity(self) -> DatasetIdentity:
        return DatasetIdentity(self.name, self.class_ids,
                               {side: _held_out_digest(self, side) for side in HELD_OUT
                                if side in self.splits})


def _held_out_digest(summary: DatasetSummary, side: str) -> str:
    """Digest of the side's pictures: their SHA-256 values (validate.sha256), sorted;
    for a dataset without that index, of its shards' bytes."""
    digest = hashlib.sha256()
    index = summary.folder / f"{side}.sha256"
    if index.is_file():
        values = sorted(line.split()[0] for line in index.read_text(encoding="utf-8")
                        .splitlines() if line.strip())
        digest.update("\n".join(values).encode())
        return digest.hexdigest()
    for shard in sorted(summary.shard_paths(side)):
        with open(shard, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _split(data: dict) -> SplitSummary:
    return SplitSummary(int(data.get("images", 0)), int(data.get("boxes", 0)),
                        list(data.get("shards") or []), int(data.get("background", 0)),
                        int(data.get("bytes", 0)), data.get("records"))


class DatasetDir:
    """Places and state of one dataset folder (nothing is created until written)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"DatasetDir({str(self.root)!r})"

    summary_file = property(lambda self: self.root / DATASET_JSON)
    label_map = property(lambda self: self.root / LABEL_MAP)
    options_file = property(lambda self: self.root / OPTIONS_FILE)
    journal = property(lambda self: self.root / JOURNAL)
    pictures_csv = property(lambda self: self.root / PICTURES_CSV)

    def csv(self, side: str) -> Path:
        return self.root / f"{side}.csv"

    def index(self, side: str) -> Path:
        """validate.sha256 / test.sha256."""
        return self.root / f"{side}.sha256"

    def picture_hashes(self, side: str) -> Path:
        """validate.phash / test.phash (perceptual hashes, for --keep-validate)."""
        return self.root / f"{side}.phash"

    def exists(self) -> bool:
        return self.summary_file.is_file() or self.journal.is_file()

    def has_work(self) -> bool:
        return self.exists()

    def opened(self, command: str, options: Any = None, stage: tuple[str, str] | None = None,
               **fields: Any):
        """The writer's context (odhelper/workspace.py): lock, log, tfrecord.yaml, stage."""
        from odhelper import workspace

        return workspace.opened(self.root, command, options, self.options_file, stage=stage,
                                has_work=self.has_work, stage_fields=fields)

    # -- reading -----------------------------------------------------------------------
    def summary(self, check_shards: bool = True) -> DatasetSummary:
        """The dataset's summary; a clear error when it is missing, unreadable,
        incomplete or being replaced."""
        self.settle()
        path = self.summary_file
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise OdhelperError(f"{path}: not found; make the dataset with "
                                "`odhelper tfrecord -i XML_DIR -o DATASET`") from None
        except (OSError, ValueError) as exc:
            raise OdhelperError(f"{path}: unreadable ({exc})") from None
        if not isinstance(data, dict):
            raise OdhelperError(f"{path}: not a dataset summary")
        splits = {side: _split(part) for side, part in (data.get("splits") or {}).items()}
        summary = DatasetSummary(self.root, str(data.get("name") or self.root.name),
                                 str(data.get("fingerprint", "")), list(data.get("classes") or []),
                                 splits, int(data.get("max_boxes_per_image") or 0), data)
        if check_shards:
            for side in ("train", "validate"):
                if not splits.get(side) or not splits[side].shards:
                    raise OdhelperError(f"{path}: no {side} shards listed")
            for side in splits:
                for shard in summary.shard_paths(side):
                    if not shard.exists():
                        raise OdhelperError(f"{shard}: listed in {path} but missing")
        return summary

    def write_summary(self, content: dict) -> None:
        """dataset.json (into a staging folder: `commit` swaps it in last)."""
        files.write_json(self.summary_file, content)

    def read_or_none(self) -> DatasetSummary | None:
        """The summary, or None when there is no usable dataset here."""
        try:
            return self.summary(check_shards=False)
        except OdhelperError:
            return None

    # -- replacing --------------------------------------------------------------------
    def new_staging(self) -> Path:
        """An empty staging folder for this process's build (leftovers of killed builds
        are removed first: call it holding the folder's lock)."""
        self.settle()
        for leftover in self.root.glob(STAGING_PREFIX + "*"):
            shutil.rmtree(leftover, ignore_errors=True)
        staging = self.root / f"{STAGING_PREFIX}{os.getpid()}"
        staging.mkdir(parents=True)
        return staging

    def commit(self, staging: Path, accept: Callable[[DatasetSummary], None] | None = None
               ) -> None:
        """Swap the dataset written in `staging` in, as a whole. `accept` sees the new
        summary first and may refuse it (raise): then nothing here changes."""
        staged = sorted(p.name for p in staging.iterdir())
        if DATASET_JSON not in staged:
            raise OdhelperError(f"{staging}: no {DATASET_JSON} staged")
        if accept is not None:
            accept(DatasetDir(staging).summary(check_shards=False))
        stale = sorted(p.name for p in self.root.iterdir()
                       if p.is_file() and is_content(p.name) and p.name not in staged)
        files.write_json(self.journal, {"staging": staging.name, "files": staged,
                                        "remove": stale})
        self._finish()

    def settle(self) -> None:
        """Finish a commit that a killed process left half done (under the folder's
        lock; another process committing right now is waited for by refusing)."""
        if not self.journal.is_file():
            return
        from odhelper import workspace

        if workspace.held(self.root):
            self._finish()
            return
        with lock.held(self.root, "tfrecord (finishing an interrupted commit)"):
            if self.journal.is_file():
                self._finish()

    def _finish(self) -> None:
        plan = json.loads(self.journal.read_text(encoding="utf-8"))
        staging = self.root / plan["staging"]
        names = [n for n in plan["files"] if n != DATASET_JSON] + [DATASET_JSON]
        for name in names:
            source = staging / name
            if source.exists():
                os.replace(source, self.root / name)
        for name in plan["remove"]:
            (self.root / name).unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        self.journal.unlink(missing_ok=True)

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)
