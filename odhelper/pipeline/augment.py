"""`--augment none|light|default|heavy` and the flip switches: the training
config's `data_augmentation_options`, each block as the OD API's preprocessor.proto
defines it (parsed into the real proto, so a wrong field fails here, not in training).

default keeps the template's own list (the model authors' choice); the others
replace it. Then --no-hflip removes the horizontal flip, --vflip and --rotate90
add theirs (overhead imagery has no "up").
"""
from __future__ import annotations

import re

from odhelper import log
from odhelper.options.training import Augmentation
HFLIP, VFLIP, ROTATE90 = "random_horizontal_flip", "random_vertical_flip", "random_rotation90"
COLOUR = ["random_adjust_brightness { max_delta: 0.2 }",
          "random_adjust_contrast { min_delta: 0.8 max_delta: 1.25 }",
          "random_adjust_saturation { min_delta: 0.8 max_delta: 1.25 }",
          "random_adjust_hue { max_delta: 0.02 }"]
STEPS = {
    "none": [],
    "light": [f"{HFLIP} {{}}", "random_adjust_brightness { max_delta: 0.1 }"],
    "heavy": [f"{HFLIP} {{}}",
              "random_crop_image { min_object_covered: 0.0 min_aspect_ratio: 0.75 "
              "max_aspect_ratio: 1.33 min_area: 0.5 max_area: 1.0 overlap_thresh: 0.3 "
              "random_coef: 0.25 }", *COLOUR,
              "random_black_patches { max_black_patches: 4 probability: 0.3 "
              "size_to_image_ratio: 0.1 }"],
}
HANDED = re.compile(r"(^|[^a-z])(left|right)([^a-z]|$)", re.IGNORECASE)


def _name(step) -> str:
    return step.WhichOneof("preprocessing_step")


def apply(train_config, choice: Augmentation) -> list[str]:
    """Rewrite `train_config.data_augmentation_options`; return them as text, one a line."""
    from google.protobuf import text_format

    options = train_config.data_augmentation_options
    if choice.augment != "default":
        del options[:]
        for text in STEPS[choice.augment]:
            text_format.Merge(text, options.add())
    kept = [step for step in options if choice.hflip or _name(step) != HFLIP]
    if len(kept) != len(options):
        saved = [type(step).FromString(step.SerializeToString()) for step in kept]
        del options[:]
        options.extend(saved)
    present = {_name(step) for step in options}
    for wanted, name in ((choice.vflip, VFLIP), (choice.rotate90, ROTATE90)):
        if wanted and name not in present:
            text_format.Merge(f"{name} {{}}", options.add())
    return describe(train_config)


def describe(train_config) -> list[str]:
    """Each option as one line of text format: 'random_adjust_hue { max_delta: 0.02 }'."""
    from google.protobuf import text_format

    return [text_format.MessageToString(step, as_one_line=True)
            for step in train_config.data_augmentation_options]


def warn_handedness(class_names, steps: list[str]) -> None:
    """A horizontal flip turns a 'left' thing into a 'right' one."""
    handed = [name for name in class_names if HANDED.search(name.replace("_", " "))]
    if handed and any(step.startswith(HFLIP) for step in steps):
        log.warning("Classes %s name a side (left/right) but the horizontal flip is on: a "
                    "flipped '%s' looks like its mirror class; consider --no-hflip",
                    ", ".join(handed), handed[0])


def orientation_advice(stats: dict | None, steps: list[str]) -> str | None:
    """Advice (never applied: whether pictures have an 'up' is the user's call) when the
    box statistics look orientation-free and vertical flips or turns are not on yet."""
    from odhelper.data import boxstats

    missing = [flag for flag, name in (("--vflip", VFLIP), ("--rotate90", ROTATE90))
               if not any(step.startswith(name) for step in steps)]
    why = boxstats.looks_orientation_free(stats) if stats and missing else None
    if why is None:
        return None
    return (f"augmentation: the boxes look the same any way up ({why}); if the pictures have "
            f"no 'up' (microscopy, overhead imagery), {' '.join(missing)} add"
            f"{'s' if len(missing) == 1 else ''} those flips and turns (not applied: your "
            "call)")
