"""Options of the commands that use a trained model or a run directory:
`config`, `export`, `evaluate`, `predict`, `report`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odhelper.errors import UsageError
from odhelper.options.artifacts import ArtifactOptions
from odhelper.options.data import TILE_OVERLAP, check_tile
from odhelper.options.fields import option
from odhelper.options.training import (ANCHOR_MODES, ANCHORS_HELP, IMAGE_SIZE_HELP, Augmentation,
                                       check_image_size)
from odhelper.thresholds import DEFAULT_THRESHOLD


def _required(options, *names: str) -> None:
    for name in names:
        if getattr(options, name) is None:
            raise UsageError(f"--{name.replace('_', '-')} is required")
        setattr(options, name, Path(getattr(options, name)))


def _threshold(value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"--threshold must be within 0..1, got {value}")


@dataclass
class ConfigOptions(Augmentation):
    RENAMED = {"checkpoint": "weights"}
    model: str = option(None, "model name (odhelper zoo list)", flags=("-m",), required=True,
                        group="")
    dataset: Path = option(None, "dataset folder written by odhelper tfrecord", flags=("-d",),
                           required=True, group="")
    output: Path = option(None, "pipeline.config to write", flags=("-o",), required=True,
                          group="")
    steps: int | None = option(None, "num_steps (and LR schedule length)", flags=("-n",))
    batch_size: int | None = option(None, "training batch size", flags=("-b",))
    weights: str | None = option(None, "pre-trained weights (.tar.gz, folder or prefix); "
                                 "default: the zoo checkpoint if already cached",
                                 old_flags=("--checkpoint",))
    image_size: int | None = option(None, IMAGE_SIZE_HELP)
    anchors: str = option("auto", ANCHORS_HELP, choices=ANCHOR_MODES)
    set: list[str] = option(help="pipeline override KEY=VALUE, repeatable", factory=list)

    def __post_init__(self):
        if self.model is None:
            raise UsageError("--model is required")
        check_image_size("config", self.image_size)
        _required(self, "dataset", "output")


@dataclass
class ExportOptions(ArtifactOptions):
    run_dir: Path = option(None, "run directory", flags=("-r",), old_flags=("-o",),
                           required=True)

    def __post_init__(self):
        _required(self, "run_dir")
        self.check_artifact_fields()


@dataclass
class EvaluateOptions:
    run_dir: Path = option(None, "the run directory (written by odhelper run)", required=True,
                           flags=("-r",))
    checkpoint: str = option("best", "best | last | ckpt-N | a checkpoint path", flags=("-c",))
    records: str | None = option(None, "evaluation TFRecords (glob); default: the run's "
                                 "eval input")
    per_image_table: int = option(0, "also print T/F/N for up to N validation pictures per "
                                  "class (T right class, F wrong class or place, N nothing found)")
    threshold: float = option(DEFAULT_THRESHOLD, "score threshold for detections, "
                              "precision/recall, T/F/N and the confusion matrix",
                              flags=("-t",))
    split: str = option("validate", "validate | test: the split to score (test: into "
                        "RUN/eval/test/, never used to choose thresholds or checkpoints)")
    target_precision: float | None = option(None, "operating point per class: the lowest "
                                            "threshold reaching this precision (default: max F1)")
    target_recall: float | None = option(None, "operating point per class: the highest "
                                         "threshold reaching this recall (default: max F1)")
    gallery: int = option(6, "worst false positives and misses drawn per class (0: none)")
    tile: int | None = option(None, "score whole pictures by SIZE x SIZE tiles (and the whole "
                              "picture), detections merged, with the exported model (into "
                              "RUN/eval/tiled/); default: the dataset's --tile, 0 = off")
    tile_overlap: float = option(TILE_OVERLAP, "share of SIZE that neighbouring tiles overlap")

    def __post_init__(self):
        _required(self, "run_dir")
        if self.per_image_table < 0:
            raise UsageError(f"--per-image-table must be >= 0, got {self.per_image_table}")
        _threshold(self.threshold)
        if self.split not in ("validate", "test"):
            raise UsageError(f"--split must be validate or test, got {self.split!r}")
        if self.target_precision is not None and self.target_recall is not None:
            raise UsageError("give --target-precision or --target-recall, not both")
        for target in (self.target_precision, self.target_recall):
            if target is not None and not 0.0 < target <= 1.0:
                raise UsageError(f"targets must be within (0, 1], got {target}")
        if self.gallery < 0:
            raise UsageError(f"--gallery must be >= 0, got {self.gallery}")
        check_tile("evaluate", self.tile, self.tile_overlap)


@dataclass
class PredictOptions:
    RENAMED = {"workers": "calls"}
    model: Path = option(None, "a run dir, an export dir, a saved_model dir, a .tflite or a "
                         ".onnx file", flags=("-m",), required=True)
    input: Path = option(None, "a folder of pictures (searched recursively), one picture, a "
                         "video or a folder of videos", flags=("-i",), required=True)
    output: Path = option(None, "folder for the drawn pictures, detections.csv and XML",
                          flags=("-o",), required=True)
    threshold: float | None = option(None, "keep detections scoring at least this, one value "
                                     "for every class (default: the per-class thresholds of "
                                     "the model's thresholds.json, else "
                                     f"{DEFAULT_THRESHOLD})", flags=("-t",))
    xml: bool = option(False, "also write a LabelImg XML per picture (verified=no) into "
                       "OUTPUT/xml/, pointing at the original pictures")
    csv: bool = option(True, "write detections.csv")
    draw: bool = option(True, "write each picture with its boxes drawn")
    calls: int = option(0, "model calls running at once (0 = 2 per core)",
                        old_flags=("--workers",))
    tile: int = option(0, "detect by SIZE x SIZE tiles and on the whole picture, merged (for "
                       "a model trained with --tile; pictures only); 0 = whole pictures")
    tile_overlap: float = option(TILE_OVERLAP, "share of SIZE that neighbouring tiles overlap")

    def __post_init__(self):
        _required(self, "model", "input", "output")
        if not self.model.exists():
            raise UsageError(f"{self.model}: no such model (-m takes a run folder, an export "
                             "folder, a SavedModel folder, a .tflite or an .onnx file)")
        if not self.input.exists():
            raise UsageError(f"{self.input}: no such picture, video or folder (-i)")
        if self.threshold is not None:
            _threshold(self.threshold)
        if self.calls < 0:
            raise UsageError(f"--calls must be >= 0, got {self.calls}")
        check_tile("predict", self.tile, self.tile_overlap)


@dataclass
class ReportOptions:
    run_dir: Path = option(None, "the run directory", flags=("-r",), required=True)
    output: Path | None = option(None, "where to write the page (default: RUN/report.html)",
                                 flags=("-o",))
    evaluate: bool = option(True, "evaluate the best checkpoint first when the run has no "
                            "per-class table of it")
    samples: int = option(8, "validation pictures in the sample-detection grid")

    def __post_init__(self):
        _required(self, "run_dir")
        self.output = Path(self.output) if self.output else None
        if self.samples < 0:
            raise UsageError(f"--samples must be >= 0, got {self.samples}")
