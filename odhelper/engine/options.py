"""Options of `odhelper run` (one dataclass: flags, defaults, run.yaml)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odhelper.errors import UsageError
from odhelper.options.fields import option

EVAL_MODES = ("inline", "sidecar", "none")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
DEFAULT_BEST_METRIC = "PascalBoxes_Precision/mAP@0.5IOU"


@dataclass
class RunOptions:
    model: str = option("ssd_mobilenet_v2", "model name (see `odhelper zoo list`)", flags=("-m",))
    steps: int = option(None, "TOTAL training steps (a resumed run continues up to this)",
                        flags=("-n",))
    input: Path | None = option(None, "LabelImg XML folder: make the dataset first "
                                "(reused when its fingerprint matches)", flags=("-i",))
    dataset: Path | None = option(None, "dataset folder written by `odhelper tfrecord` "
                                  "(default with -i: RUN_DIR/dataset)", flags=("-d",))
    split_ratio: float = option(9.0, "with -i: train share, tenths (9 = 90 %% train) or a "
                                "fraction (0.85), as in `odhelper tfrecord -sr`", flags=("-sr",))
    run_dir: Path | None = option(None, "run directory (default: runs/<model>)", flags=("-o",))
    eval_every: int = option(1000, "evaluate (and checkpoint) every K steps")
    batch_size: int | None = option(None, "training batch size (default: the template's)",
                                    flags=("-b",))
    checkpoint: str | None = option(None, "pre-trained checkpoint: a zoo .tar.gz, a folder "
                                    "holding checkpoint/ckpt-0, or a ckpt prefix")
    from_scratch: bool = option(False, "do not look for or download a zoo checkpoint")
    patience: int = option(0, "stop after P evaluations without improvement (0 = never)")
    eval_mode: str = option("inline", "inline: evaluate in this process at each boundary; "
                            "sidecar: a second CPU process polls checkpoints; none",
                            choices=EVAL_MODES)
    best_metric: str = option(DEFAULT_BEST_METRIC, "metric that picks best/ (higher is better)")
    strategy: str = option("default", "tf.distribute strategy", choices=STRATEGIES)
    set: list[str] = option(None, "pipeline overrides key=value (flag added by the command)",
                            factory=list, cli=False)
    tflite: bool = option(False, "also export model.tflite (SSD models)")
    export: bool = option(True, "export the detector when training ends")
    report: bool = option(True, "write RUN_DIR/report.html at the end (evaluates best/ "
                          "when no evaluation table exists yet)")
    keep_checkpoints: int = option(3, "checkpoints kept in RUN_DIR/checkpoints")
    log_every: int = option(10, "train log line + TensorBoard scalars every N steps")
    seed: int = option(42, "TensorFlow random seed")

    def __post_init__(self) -> None:
        if self.steps is None or int(self.steps) < 1:
            raise UsageError("run: --steps N (>= 1, the total) is required")
        if self.input is None and self.dataset is None:
            raise UsageError("run: give -i XML_DIR or --dataset DIR")
        if self.eval_every < 1 or self.patience < 0 or self.keep_checkpoints < 1:
            raise UsageError("run: --eval-every and --keep-checkpoints must be >= 1, "
                             "--patience >= 0")
        if self.patience and self.eval_mode != "inline":
            raise UsageError("run: --patience needs --eval-mode inline (the sidecar evaluates "
                             "behind training and cannot stop it)")
        self.input = Path(self.input) if self.input else None
        self.run_dir = Path(self.run_dir) if self.run_dir else Path("runs") / self.model
        if self.dataset is None:
            self.dataset = self.run_dir / "dataset"
        self.dataset = Path(self.dataset)
        self.set = list(self.set or [])
