"""Options of `odhelper active-learn` (one dataclass: flags, defaults, active.json)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odhelper.errors import UsageError
from odhelper.options.fields import option


@dataclass
class ActiveOptions:
    dataset: Path = option(None, "LabelImg XML folder of the boxed pictures (round 0 trains "
                           "on it; its validation split stays fixed)", flags=("-i",))
    pool: Path = option(None, "image-level pool: POOL/<class name>/*.jpg, pictures known to "
                        "show that class, no boxes", flags=("-p",))
    model: str = option("ssd_mobilenet_v2", "model name (see `odhelper zoo list`)",
                        flags=("-m",))
    rounds: int = option(3, "labelling rounds after round 0 (a resumed run continues up to "
                         "this many)", flags=("-r",))
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
                           "and the training run", flags=("-o",))
    split_ratio: float = option(9.0, "train share of the boxed set, as `odhelper tfrecord -sr`",
                                flags=("-sr",))
    eval_every: int | None = option(None, "evaluate every K steps (default: at the end of "
                                    "each round)")
    batch_size: int | None = option(None, "training batch size (default: the template's)",
                                    flags=("-b",))
    checkpoint: str | None = option(None, "pre-trained checkpoint for round 0 (zoo tarball, "
                                    "folder or ckpt prefix)")
    from_scratch: bool = option(False, "do not look for or download a zoo checkpoint")
    set: list[str] = option(None, "pipeline overrides key=value (flag added by the command)",
                            factory=list, cli=False)
    seed: int = option(42, "seed of the split and of TensorFlow")

    def __post_init__(self) -> None:
        if self.dataset is None or self.pool is None:
            raise UsageError("active-learn: --dataset XML_DIR and --pool POOL_DIR are required")
        if self.rounds < 0 or self.steps_per_round < 1:
            raise UsageError("active-learn: --rounds must be >= 0, --steps-per-round >= 1")
        if not 0.0 < self.threshold <= 1.0:
            raise UsageError(f"active-learn: --threshold must be in (0, 1], got {self.threshold}")
        self.box_threshold = self.threshold if self.box_threshold is None else \
            self.box_threshold
        if not 0.0 < self.box_threshold <= self.threshold:
            raise UsageError("active-learn: --box-threshold must be in (0, --threshold]")
        self.dataset, self.pool, self.run_dir = (Path(self.dataset), Path(self.pool),
                                                 Path(self.run_dir))
        self.initial_steps = self.initial_steps or self.steps_per_round
        self.set = list(self.set or [])

    def steps_after(self, round_number: int) -> int:
        """Total training steps once round `round_number` has trained."""
        return self.initial_steps + round_number * self.steps_per_round
