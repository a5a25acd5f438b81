"""Options of `odhelper demo`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odhelper.errors import UsageError
from odhelper.options.fields import option


@dataclass
class DemoOptions:
    out: Path = option(Path("runs/demo"), "demo folder (pictures, dataset, run, report)",
                       flags=("-o",))
    steps: int = option(1200, "training steps", flags=("-n",))
    count: int = option(5000, "synthetic labelled pictures (train + validate)")
    validate: int = option(150, "of those, pictures kept for validation")
    holdout: int = option(8, "extra unseen pictures to run predict on")
    classes: list[str] = option(help="shape classes (circle square triangle star cross)",
                                factory=lambda: ["circle", "square", "triangle"])
    eval_every: int = option(600, "evaluate on the validation pictures every N steps")
    batch_size: int = option(16, "training batch size")
    image_size: int = option(160, "model input side in pixels (pinned: not fitted to the shapes)")
    picture_size: int = option(256, "synthetic picture side in pixels")
    threshold: float | None = option(None, "score threshold of the boxes drawn on predicted "
                                     "pictures (default: the per-class thresholds evaluate "
                                     "ships in export/thresholds.json)")
    seed: int = option(7, "seed of the pictures and the split")
    workers: int = option(0, "processes drawing pictures (0 = one per core)")
    generate_only: bool = option(False, "only draw the synthetic pictures (with --pool N for "
                                 "an image-level pool)")
    pool: int = option(0, "with --generate-only: also draw N image-level pool pictures "
                       "(pool/<class>/, hidden boxes in pool_truth/)")

    def __post_init__(self):
        self.out = Path(self.out)
        for name in ("steps", "count", "validate", "eval_every", "batch_size"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1")
        if self.validate >= self.count:
            raise UsageError(f"--validate ({self.validate}) must be below --count ({self.count})")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise UsageError(f"--threshold must be within 0..1, got {self.threshold}")
        if self.pool < 0:
            raise UsageError(f"--pool must be >= 0, got {self.pool}")
        if self.image_size < 32:
            raise UsageError(f"--image-size must be >= 32, got {self.image_size}")
