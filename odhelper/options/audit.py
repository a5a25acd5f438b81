"""Options of `odhelper audit` (data health, then label issues found by a model)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odhelper.errors import UsageError
from odhelper.options.data import DataInputOptions
from odhelper.options.fields import option
from odhelper.options.training import IMAGE_SIZE_HELP, check_image_size, seconds_of

DEFAULT_MODEL = "ssd_mobilenet_v2_cpu"  # the fastest template that learns from scratch here


@dataclass
class AuditOptions(DataInputOptions):
    GROUP = "data"
    GROUPS = ("", "model", "data")
    input: Path | None = option(None, "annotations to audit (LabelImg XML folder, COCO, YOLO)",
                                flags=("-i",), group="")
    dataset: Path | None = option(None, "a dataset folder written by `odhelper tfrecord` "
                                  "(its input is audited)", flags=("-d",), group="")
    run_dir: Path | None = option(None, "a trained run: its validation (and test) pictures "
                                  "are scored by its exported model, no training; without "
                                  "it, folds are trained within --time", flags=("-r",),
                                  group="")
    output: Path | None = option(None, "folder for label_issues.csv, audit.html, the drawn "
                                 "pictures and review/ (default with --run-dir: RUN/audit)",
                                 flags=("-o",), group="")
    time: str = option("10m", "time budget of the folds' training, all folds together "
                       "(15m, 1h, 600s)", group="model")
    folds: int = option(3, "folds: each is scored by a model trained on the others",
                        group="model")
    model: str = option(DEFAULT_MODEL, "model of the folds (odhelper zoo list)",
                        flags=("-m",), group="model")
    image_size: int | None = option(None, IMAGE_SIZE_HELP, group="model")
    batch_size: int | None = option(None, "training batch size of the folds", flags=("-b",),
                                    group="model")
    set: list[str] = option(help="pipeline override KEY=VALUE of the folds, repeatable",
                            factory=list, group="model")
    top: int = option(30, "pictures drawn and copied with their XML into OUTPUT/review/",
                      group="")
    seed: int = option(42, "seed of the folds and of TensorFlow", group="model")

    def __post_init__(self):
        given = [name for name in ("input", "dataset", "run_dir") if getattr(self, name)]
        if len(given) != 1:
            raise UsageError("audit: give one of -i ANNOTATIONS, -d DATASET and -r RUN_DIR")
        for name in given:
            setattr(self, name, Path(getattr(self, name)))
            if not getattr(self, name).exists():
                raise UsageError(f"audit: {getattr(self, name)}: not found")
        if self.output is None and self.run_dir is None:
            raise UsageError("audit: -o OUTPUT is required (with -i or -d)")
        self.output = Path(self.output) if self.output else None
        self.check_input_fields("audit")
        if self.input is None and self.input_fields_changed():
            raise UsageError(f"audit: {', '.join(self.input_fields_changed())} go with -i "
                             "(a dataset's or a run's are its own)")
        try:
            if seconds_of(self.time) <= 0:
                raise ValueError("must be > 0")
        except ValueError as exc:
            raise UsageError(f"audit: --time {self.time}: {exc}") from None
        if not 2 <= self.folds <= 10:
            raise UsageError(f"audit: --folds must be within 2..10, got {self.folds}")
        if self.top < 0:
            raise UsageError(f"audit: --top must be >= 0, got {self.top}")
        check_image_size("audit", self.image_size)
        if self.tile:
            raise UsageError("audit: --tile is not supported (the folds score whole pictures)")

    @property
    def seconds(self) -> float:
        return seconds_of(self.time)
