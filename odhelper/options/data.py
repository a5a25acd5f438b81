"""Options of `odhelper tfrecord` (one dataclass: flags, defaults, dataset.json record);
its input options are shared with `odhelper run -i` (DataInputOptions)."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from odhelper.constants import MAX_PIXELS
from odhelper.errors import UsageError
from odhelper.rundir import LABEL_MAP
from odhelper.options.fields import option

FORMATS = ("auto", "voc", "coco", "yolo")
BALANCE_MODES = ("none", "sqrt", "repeat")
SPLIT_SOURCES = ("ratio", "imagesets")
# Folder names that say nothing about the dataset (the label map copy's name).
GENERIC_FOLDERS = {"annotations", "images", "jpegimages", "train", "test", "val", "xml", "data"}


def dataset_name_of(input_path: Path) -> str:
    """A dataset's name from its input folder, skipping generic folder names
    (raccoon/annotations -> raccoon)."""
    folder = Path(input_path).resolve()
    folder = folder.parent if folder.is_file() else folder  # a COCO *.json
    while folder.name.lower() in GENERIC_FOLDERS and folder.parent != folder:
        folder = folder.parent
    return folder.name or "dataset"


def split_fractions(ratio) -> tuple[float, float, float]:
    """-sr as (train, validate, test) fractions: "9" or "0.9" -> (.9, .1, 0);
    "8,1,1" or "0.8,0.1,0.1" -> (.8, .1, .1) (parts are shares of their sum)."""
    text = str(ratio).strip()
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        train = parts[0] / 10.0 if parts[0] >= 1.0 else parts[0]
        if 0.0 < train < 1.0:
            return train, 1.0 - train, 0.0
    elif len(parts) == 3 and min(parts) > 0:
        total = sum(parts)
        return parts[0] / total, parts[1] / total, parts[2] / total
    raise UsageError(f"tfrecord: -sr/--split-ratio {ratio}: use tenths (1-9, e.g. 9 = 90 % "
                     "train), a fraction in (0, 1), or train,validate,test such as 8,1,1")


TILE_OVERLAP = 0.2


def check_tile(command: str, tile: int | None, overlap: float) -> None:
    if tile and tile < 64:
        raise UsageError(f"{command}: --tile must be 0 or >= 64 px, got {tile}")
    if not 0.0 <= overlap < 0.9:
        raise UsageError(f"{command}: --tile-overlap must be within [0, 0.9), got {overlap}")


@dataclass
class DataInputOptions:
    """How the annotations are read, checked and split: the options `odhelper tfrecord`
    and `odhelper run -i` (which makes its dataset with them) share."""
    GROUP = "data"
    RENAMED = {"keep_empty": "background"}  # old YAML keys (--keep-empty is a flag alias)

    input: Path | None = option(None, "annotations to convert", flags=("-i",))
    format: str = option("auto", "annotation format of --input (auto: detected)",
                         choices=FORMATS)
    images: Path | None = option(None, "folder holding the pictures when they are not under "
                                 "the input; searched right after the XML's own folders (so it "
                                 "also settles same-named pictures)")
    label_map: Path | None = option(None, "label_map.pbtxt to use (boxes of other classes are "
                                    "dropped); default: generated from the classes found",
                                    flags=("-l",))
    split_from: str = option("ratio", "ratio: split by -sr, stratified over classes; "
                             "imagesets: a VOC devkit's ImageSets/Main lists (train.txt, "
                             "val.txt, test.txt) are the split, annotations in no list are "
                             "left out", choices=SPLIT_SOURCES)
    background: bool = option(True, "keep background pictures (an annotation without any "
                              "object) as examples with zero boxes (--keep-empty: the old "
                              "name)", flags=("--keep-empty",))
    negatives: Path | None = option(None, "folder of background pictures without annotations "
                                    "(each trains as a picture with zero boxes)")
    balance: str = option("none", "repeat-factor sampling of TRAINING pictures by their rarest "
                          "class (LVIS style): sqrt: r = max(1, sqrt(t / f)), repeat: "
                          "r = max(1, t / f); f = share of training pictures holding the "
                          "class", choices=BALANCE_MODES)
    balance_threshold: float = option(0.0, "t of --balance (0 = the most frequent class's "
                                      "share: every class is lifted towards it)")
    skip_difficult: bool = option(False, "drop boxes marked difficult")
    merge_case: bool = option(False, "class names that differ only by case or surrounding "
                              "spaces become one class, the most frequent spelling (without "
                              "it they are reported and kept apart)")
    strict: bool = option(False, "stop at the first problem instead of skipping it")
    verify_pixels: bool = option(False, "decode every image fully (slower; finds corrupt "
                                 "pixel data that the header and end-marker checks miss)")
    max_pixels: int = option(MAX_PIXELS, "refuse pictures with more pixels (width x height) "
                             "than this, which would exhaust memory in training; 0 = no limit")
    tile: int = option(0, "cut pictures larger than SIZE px into SIZE x SIZE tiles, one "
                       "example each (small objects in large pictures keep their pixels; the "
                       "split is made on whole pictures first); evaluate and predict with "
                       "--tile SIZE then; 0 = whole pictures")
    tile_overlap: float = option(TILE_OVERLAP, "share of SIZE that neighbouring tiles overlap")

    def check_input_fields(self, command: str) -> None:
        """Paths as Path, values in range."""
        for name in ("input", "images", "label_map", "negatives"):
            value = getattr(self, name)
            setattr(self, name, Path(value) if value else None)
        if self.balance_threshold < 0:
            raise UsageError(f"{command}: --balance-threshold must be >= 0")
        if self.max_pixels < 0:
            raise UsageError(f"{command}: --max-pixels must be >= 0")
        check_tile(command, self.tile, self.tile_overlap)

    def input_fields(self) -> dict:
        """These options' values (to make a TfrecordOptions from another command's)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(DataInputOptions)}

    def input_fields_changed(self) -> list[str]:
        """The flags of these options (but --input) set to something else than the default."""
        return ["--" + f.name.replace("_", "-") for f in dataclasses.fields(DataInputOptions)
                if f.name != "input" and getattr(self, f.name) != f.default]


@dataclass
class TfrecordOptions(DataInputOptions):
    input: Path = option(None, "folder searched recursively for LabelImg / Pascal VOC *.xml "
                         "(each picture found by <filename>: beside the XML, in the layout's "
                         "picture folder, in --images, else in any folder under them), or a "
                         "COCO instances JSON (file, or folder with annotations/*.json), or a "
                         "YOLO folder (images/ + labels/*.txt + data.yaml or classes.txt)",
                         flags=("-i",))
    output: Path = option(Path("dataset"), "dataset folder to write", flags=("-o",))
    split_ratio: str = option("9", "train share: tenths as in the original helper tool (9 = 90 %% "
                              "train, 10 %% validate) or a fraction such as 0.85; three parts "
                              "train,validate,test (8,1,1 or 0.8,0.1,0.1) add a test split",
                              flags=("-sr",))
    seed: int = option(42, "seed of the split and the shard order")
    name: str | None = option(None, "dataset name for label_maps/NAME.pbtxt (default: the "
                              "output folder's name; for ./dataset the input's)")
    keep_validate: Path | None = option(None, "earlier dataset folder whose validation split is "
                                        "kept byte for byte (its validate records reused, its "
                                        "images never trained on); all new images train")
    shards: int = option(0, "train shards (validate gets a share by size); 0 = automatic, "
                         "100-200 MB per shard")
    workers: int = option(0, "parallel worker processes; 0 = all cores")
    fold: list[int] = option(help="[k, K]: validate on fold k of K, train on the others "
                             "(odhelper audit's folds)", factory=list, cli=False)
    copy_label_map: bool = option(False, "also copy label_map.pbtxt to label_maps/<name>.pbtxt "
                                  "of the odhelper checkout you work in (the original helper "
                                  "tool's place for label maps)")

    def __post_init__(self) -> None:
        if self.input is None:
            raise UsageError("tfrecord: -i/--input DIR is required")
        self.check_input_fields("tfrecord")
        self.output = Path(self.output)
        self.keep_validate = Path(self.keep_validate) if self.keep_validate else None
        if self.keep_validate and not self.label_map:  # the kept records carry its ids
            self.label_map = self.keep_validate / LABEL_MAP
        if self.keep_validate and self.split_from != "ratio":
            raise UsageError("tfrecord: --keep-validate keeps an earlier split; it does not go "
                             "with --split-from " + self.split_from)
        self.train_fraction  # validates split_ratio
        if self.shards < 0 or self.workers < 0:
            raise UsageError("tfrecord: --shards and --workers must be >= 0")

    @property
    def train_fraction(self) -> float:
        """-sr 9 -> 0.9 (tenths); -sr 0.85 -> 0.85; -sr 8,1,1 -> 0.8."""
        return split_fractions(self.split_ratio)[0]

    @property
    def test_fraction(self) -> float:
        """-sr 8,1,1 -> 0.1; 0 without a test split."""
        return split_fractions(self.split_ratio)[2]

    @property
    def dataset_name(self) -> str:
        """--name, else the output folder's name, else (the default `dataset`) the
        input's, skipping generic folder names (raccoon/annotations -> raccoon)."""
        if self.name:
            return self.name
        if self.output.resolve().name != "dataset":
            return self.output.resolve().name
        return dataset_name_of(self.input)

    @property
    def worker_count(self) -> int:
        if self.workers:
            return self.workers
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not Linux
            return max(1, os.cpu_count() or 1)

    def affecting_output(self) -> dict:
        """The options that change the records (for the fingerprint)."""
        extra = {"test_ratio": self.test_fraction} if self.test_fraction else {}
        if self.fold:
            extra["fold"] = list(self.fold)
        if self.split_from != "ratio":
            extra["split_from"] = self.split_from
        return {**extra, "split_ratio": self.train_fraction, "seed": self.seed,
                "background": self.background, "skip_difficult": self.skip_difficult,
                "verify_pixels": self.verify_pixels, "shards": self.shards,
                "max_pixels": self.max_pixels,
                "images": str(self.images.resolve()) if self.images else None,
                "keep_validate": str(self.keep_validate.resolve()) if self.keep_validate
                else None,
                "input": str(self.input.resolve()), "format": self.format,
                "negatives": str(self.negatives.resolve()) if self.negatives else None,
                "balance": self.balance, "balance_threshold": self.balance_threshold,
                **({"tile": self.tile, "tile_overlap": self.tile_overlap} if self.tile else {})}
