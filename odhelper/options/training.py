"""Options of `odhelper run` and `odhelper active-learn`; the fields they share
are defined once, in `TrainingOptions`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odhelper.constants import PASCAL_MAP50, UNSET_STEPS
from odhelper.errors import UsageError
from odhelper.options.artifacts import ArtifactOptions
from odhelper.options.data import DataInputOptions
from odhelper.options.fields import option

EVAL_MODES = ("inline", "sidecar", "none")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_float16")
DEFAULT_EVAL_EVERY = 1000
AUGMENT_PRESETS = ("none", "light", "default", "heavy")
# What a run's pipeline.config is made from: a resume keeps the recorded values.
CONFIG_FIELDS = ("model", "batch_size", "set", "augment", "hflip", "vflip", "rotate90",
                 "weights", "from_scratch", "image_size", "anchors")
ANCHOR_MODES = ("auto", "template")
IMAGE_SIZE_HELP = ("model input size in pixels (fixed-shape resizer: the side; keep-aspect-ratio: "
                   "the longer side); default: fitted to the dataset's smallest class for "
                   "from-scratch runs, the template's with pre-trained weights")
ANCHORS_HELP = ("SSD anchors: auto (fitted to the boxes for from-scratch runs, kept only when "
                "they cover more boxes) or template")
WEIGHTS_HELP = ("pre-trained weights: a zoo .tar.gz, a folder holding checkpoint/ckpt-0, or a "
                "ckpt prefix")


def seconds_of(text: str) -> float:
    """'15m', '2h', '1h30m', '90s' or '600' (seconds) -> seconds; ValueError otherwise."""
    import re

    text = str(text).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a duration: {text!r} (e.g. 15m, 2h, 1h30m, 90s)")
    return sum(float(number) * {"h": 3600, "m": 60, "s": 1}[unit] for number, unit in parts)


def check_image_size(command: str, size: int | None) -> None:
    if size is not None and not 32 <= size <= 4096:
        raise UsageError(f"{command}: --image-size must be within 32..4096 px, got {size}")


@dataclass
class Augmentation:
    """What the training pictures go through (pipeline/augment.py writes it)."""
    GROUP = "augmentation"
    augment: str = option("default", "training augmentation: none, light (flip, brightness), "
                          "default (the model template's own), heavy (crop, colour, patches)",
                          choices=AUGMENT_PRESETS)
    hflip: bool = option(True, "random horizontal flip (--no-hflip: for classes that have a "
                         "side, e.g. left/right arrows)")
    vflip: bool = option(False, "add a random vertical flip (overhead imagery)")
    rotate90: bool = option(False, "add a random 90-degree rotation (overhead imagery)")

    @property
    def augmentation(self) -> "Augmentation":
        return Augmentation(self.augment, self.hflip, self.vflip, self.rotate90)


@dataclass
class TrainingOptions(Augmentation):
    """What every command that trains takes."""
    GROUP = "training"
    RENAMED = {"checkpoint": "weights"}  # run.yaml files written before the flag renames
    model: str = option("ssd_mobilenet_v2", "model name (see `odhelper zoo list`)", flags=("-m",),
                        group="")
    batch_size: int | None = option(None, "training batch size (default: the template's; the "
                                    "learning rate scales with it)", flags=("-b",))
    weights: str | None = option(None, WEIGHTS_HELP, old_flags=("--checkpoint",))
    from_scratch: bool = option(False, "do not look for or download a zoo checkpoint")
    image_size: int | None = option(None, IMAGE_SIZE_HELP)
    anchors: str = option("auto", ANCHORS_HELP, choices=ANCHOR_MODES)
    fitted: list[str] = option(help="what was fitted to the data, with the figures (written "
                               "by the run, for the record)", factory=list, cli=False)
    eval_every: int | None = option(None, "evaluate every K steps (default: run 1000, "
                                    "active-learn at the end of each round)",
                                    group="evaluation")
    split_ratio: str = option("9", "train share when the dataset is made here: tenths "
                              "(9 = 90 %% train), a fraction (0.85) or train,validate,test "
                              "(8,1,1), as `odhelper tfrecord -sr`", flags=("-sr",),
                              group="data")
    seed: int = option(42, "seed of the split and of TensorFlow")
    augmentations: list[str] = option(help="the effective augmentation options (written by "
                                      "the run, for the record)", factory=list, cli=False)
    set: list[str] = option(help="pipeline override KEY=VALUE, repeatable (--set "
                            "learning_rate=0.001 --set train_config.batch_size=8)",
                            factory=list)

    def check_training_fields(self, command: str) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise UsageError(f"{command}: --batch-size must be >= 1, got {self.batch_size}")
        if self.eval_every is not None and self.eval_every < 1:
            raise UsageError(f"{command}: --eval-every must be >= 1, got {self.eval_every}")
        check_image_size(command, self.image_size)
        self.set = list(self.set or [])


@dataclass
class RunOptions(TrainingOptions, ArtifactOptions, DataInputOptions):
    """`odhelper run`; with -i it makes the dataset with `odhelper tfrecord`'s input
    options (DataInputOptions, defined once)."""
    GROUP = "training"
    GROUPS = ("data", "training", "evaluation", "export", "augmentation")
    RENAMED = {**TrainingOptions.RENAMED, **DataInputOptions.RENAMED}
    ALTERNATIVES = {"epochs": "steps", "time": "steps"}  # a file holding both: the first
    steps: int = option(None, "TOTAL training steps (a resumed run continues up to this); "
                        "this, --epochs or --time", flags=("-n",), required=True, group="")
    epochs: float | None = option(None, "TOTAL passes over the training records as written "
                                  "(--balance copies count), instead of --steps: the steps "
                                  "are computed and recorded in run.yaml", group="")
    time: str | None = option(None, "time budget of the whole command (15m, 2h, 1h30m), "
                              "instead of --steps: as many steps as fit, measured once "
                              "training is warm; the schedule, the evaluations, export and "
                              "report fit in it, the steps are recorded in run.yaml",
                              group="")
    input: Path | None = option(None, "LabelImg XML folder (or COCO, YOLO): make the dataset "
                                "first, with the options of `odhelper tfrecord` (reused when "
                                "its fingerprint matches); this or -d", flags=("-i",), group="")
    dataset: Path | None = option(None, "dataset folder written by `odhelper tfrecord` "
                                  "(default with -i: RUN_DIR/dataset)", flags=("-d",), group="")
    run_dir: Path | None = option(None, "run directory (default: runs/<dataset>-<model>)",
                                  flags=("-r",), old_flags=("-o",), group="")
    checkpoint_every: int | None = option(None, "save a checkpoint every K steps (default: "
                                          "--eval-every); one is also saved at each "
                                          "evaluation and at the end")
    patience: int = option(0, "stop after P evaluations without improvement (0 = never)",
                           group="evaluation")
    eval_mode: str = option("inline", "inline: evaluate in this process at each boundary; "
                            "sidecar: a second CPU process polls checkpoints; none",
                            choices=EVAL_MODES, group="evaluation")
    best_metric: str = option(PASCAL_MAP50, "metric that picks best/ (higher is better)",
                              group="evaluation")
    strategy: str = option("default", "tf.distribute strategy", choices=STRATEGIES)
    export: bool = option(True, "export the detector when training ends", group="export")
    report: bool = option(True, "write RUN_DIR/report.html at the end (evaluates best/ "
                          "when no evaluation table exists yet)", group="export")
    keep_checkpoints: int = option(3, "checkpoints kept in RUN_DIR/checkpoints")
    log_every: int = option(10, "train log line + TensorBoard scalars every N steps")
    shards: int = option(0, "train shards when -i makes the dataset (as `odhelper tfrecord "
                         "--shards`); 0 = automatic, at least one per worker", group="data")
    steps_per_loop: int | None = option(None, "training steps inside one tf.function call; "
                                        "hooks and the NaN check run after each loop "
                                        "(default: 1 on CPU, 100 with a GPU)")
    precision: str = option("float32", "mixed_float16: float16 compute on a GPU (SSD models)",
                            choices=PRECISIONS)
    cpu_replicas: int = option(0, "split the CPU into N logical devices, so that --strategy "
                               "mirrored trains N replicas on a CPU (testing; 0 = off)")

    def __post_init__(self) -> None:
        self.check_training_fields("run")
        self.check_artifact_fields()
        if sum(value is not None for value in (self.steps, self.epochs, self.time)) > 1:
            raise UsageError("run: give one of --steps, --epochs and --time")
        if self.epochs is not None and not self.epochs > 0:
            raise UsageError(f"run: --epochs must be > 0, got {self.epochs}")
        if self.time is not None:
            self.budget_seconds  # noqa: B018 - checked here: a bad duration is a usage error
            if self.strategy == "multi_worker":
                raise UsageError("run: --time needs one worker (workers would each measure "
                                 "their own budget); give --steps")
            self.steps = UNSET_STEPS
            self.eval_every = self.eval_every or UNSET_STEPS  # fitted with the steps
        if self.epochs is None and (self.steps is None or int(self.steps) < 1):
            raise UsageError("run: --steps N, --epochs E or --time T (>= 1 step, the total) "
                             "is required")
        if self.input is None and self.dataset is None:
            raise UsageError("run: give -i XML_DIR or --dataset DIR")
        self.check_input_fields("run")
        if self.input is None and self.input_fields_changed():
            given = ", ".join(self.input_fields_changed())
            raise UsageError(f"run: -i is needed for {given} (options of the dataset made "
                             "here); for --dataset DIR give them to `odhelper tfrecord`")
        self.eval_every = self.eval_every or DEFAULT_EVAL_EVERY
        self.checkpoint_every = self.checkpoint_every or self.eval_every
        if self.checkpoint_every < 1 or self.patience < 0 or self.keep_checkpoints < 1 \
                or self.log_every < 1 or (self.steps_per_loop is not None
                                          and self.steps_per_loop < 1):
            raise UsageError("run: --checkpoint-every, --keep-checkpoints, --log-every and "
                             "--steps-per-loop must be >= 1, --patience >= 0")
        if self.shards < 0 or self.cpu_replicas < 0:
            raise UsageError("run: --shards and --cpu-replicas must be >= 0")
        if self.patience and self.eval_mode != "inline":
            raise UsageError("run: --patience needs --eval-mode inline (the sidecar evaluates "
                             "behind training and cannot stop it)")
        self.run_dir = Path(self.run_dir) if self.run_dir else \
            Path("runs") / f"{self.dataset_name}-{self.model}"
        if self.dataset is None:
            from odhelper.rundir import RunDir
            self.dataset = RunDir(self.run_dir).default_dataset
        self.dataset = Path(self.dataset)

    @property
    def budget_seconds(self) -> float | None:
        """--time in seconds."""
        if self.time is None:
            return None
        try:
            seconds = seconds_of(self.time)
        except ValueError as exc:
            raise UsageError(f"run: --time: {exc}") from None
        if seconds <= 0:
            raise UsageError(f"run: --time must be > 0, got {self.time}")
        return seconds

    @property
    def dataset_name(self) -> str:
        """The name of the dataset, for the default run folder: -i's folder (generic
        names such as annotations/ skipped), else the dataset's recorded name."""
        import re

        from odhelper.options.data import dataset_name_of

        if self.input is not None:
            name = dataset_name_of(Path(self.input))
        else:
            from odhelper.datasetdir import DatasetDir
            found = DatasetDir(self.dataset).read_or_none()
            name = found.name if found else Path(self.dataset).resolve().name
        return re.sub(r"[^\w.-]+", "_", name).strip("._") or "dataset"


@dataclass
class ActiveOptions(TrainingOptions):
    RENAMED = {**TrainingOptions.RENAMED, "dataset": "input"}
    input: Path = option(None, "LabelImg XML folder of the boxed pictures (round 0 trains "
                         "on it; its validation split stays fixed)", flags=("-i",),
                         old_flags=("--dataset",), required=True, group="")
    pool: Path = option(None, "image-level pool: POOL/<class name>/*.jpg, pictures known to "
                        "show that class, no boxes", flags=("-p",), required=True, group="")
    rounds: int = option(3, "labelling rounds after round 0 (a resumed run continues up to "
                         "this many)")
    steps_per_round: int = option(1000, "training steps added by each round", flags=("-s",))
    initial_steps: int | None = option(None, "round 0 training steps (default: "
                                       "--steps-per-round)")
    threshold: float = option(0.8, "adopt a picture when its best detection has the "
                              "picture's class and scores at least this", flags=("-t",))
    box_threshold: float | None = option(None, "boxes of the picture's class kept in an adopted "
                                         "picture score at least this (default: --threshold)")
    review: bool = option(False, "write candidates to RUN_DIR/review/ for a person to check in "
                          "LabelImg; the next round adopts those saved as verified")
    run_dir: Path = option(Path("runs/active"), "folder for rounds, datasets, adopted pictures "
                           "and the training run", flags=("-r",), old_flags=("-o",), group="")

    def __post_init__(self) -> None:
        self.check_training_fields("active-learn")
        if self.input is None or self.pool is None:
            raise UsageError("active-learn: -i/--input XML_DIR and --pool POOL_DIR are required")
        if self.rounds < 0 or self.steps_per_round < 1:
            raise UsageError("active-learn: --rounds must be >= 0, --steps-per-round >= 1")
        if not 0.0 < self.threshold <= 1.0:
            raise UsageError(f"active-learn: --threshold must be in (0, 1], got {self.threshold}")
        self.box_threshold = self.threshold if self.box_threshold is None else \
            self.box_threshold
        if not 0.0 < self.box_threshold <= self.threshold:
            raise UsageError("active-learn: --box-threshold must be in (0, --threshold]")
        self.input, self.pool, self.run_dir = (Path(self.input), Path(self.pool),
                                               Path(self.run_dir))
        self.initial_steps = self.initial_steps or self.steps_per_round

    def steps_after(self, round_number: int) -> int:
        """Total training steps once round `round_number` has trained."""
        return self.initial_steps + round_number * self.steps_per_round


@dataclass
class AugmentPreviewOptions(Augmentation):
    """`odhelper augment-preview`: the augmentation fields apply with --model/--dataset
    (a run directory's pipeline.config already holds its own)."""
    run_dir: Path | None = option(None, "run directory: preview its pipeline.config",
                                  flags=("-r",))
    model: str | None = option(None, "model name (with --dataset, instead of --run-dir)",
                               flags=("-m",))
    dataset: Path | None = option(None, "dataset folder written by `odhelper tfrecord`",
                                  flags=("-d",))
    count: int = option(16, "training samples in the grid", old_flags=("-n",))
    output: Path | None = option(None, "PNG to write (default: RUN/augment_preview.png, or "
                                 "./augment_preview.png)", flags=("-o",))
    seed: int = option(0, "seed of the augmentation draws")

    def __post_init__(self) -> None:
        if (self.run_dir is None) == (self.model is None or self.dataset is None):
            raise UsageError("augment-preview: give --run-dir RUN, or --model M and --dataset D")
        if self.count < 1:
            raise UsageError("augment-preview: --count must be >= 1")
        self.run_dir = Path(self.run_dir) if self.run_dir else None
        self.dataset = Path(self.dataset) if self.dataset else None
        self.output = Path(self.output) if self.output else None
