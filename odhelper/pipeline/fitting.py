"""A configuration fitted to the data: the input size and the SSD anchors, chosen from the
box statistics tfrecord recorded (data/boxstats.py), each choice said with its reason.

Input size (the main lever for small objects): a from-scratch model with a fixed-shape
resizer gets the size at which the median box of the smallest class keeps MIN_OBJECT_PX
pixels on its short side, never below the template's size and at most MAX_SIZE_FACTOR
times the template's side (so a training step costs at most about that factor squared).
Pre-trained models keep their template's size unless --image-size is given.

Anchors (second): the share of training boxes whose best anchor reaches the matcher's IoU
is measured for the template's anchors and for candidates (scales, aspect ratios from the
boxes' own, the lowest layer full instead of reduced); the best replaces the template's
only when it covers clearly more boxes, as YOLOv5's autoanchor does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from odhelper import log
from odhelper.constants import MIN_OBJECT_PX
from odhelper.data import boxstats, health

MAX_SIZE_FACTOR = 2  # input side at most 2x the template's: a step costs at most ~4x
MIN_GAIN = 0.02  # anchors are refitted when they match this much more of the boxes
ANCHOR_MODES = ("auto", "template")


@dataclass
class Fitted:
    """What was chosen, for run.yaml, the log and the report."""
    image_size: int | None = None
    choices: list[str] = field(default_factory=list)


def resizer_size(resizer) -> tuple[str, int | None]:
    kind = resizer.WhichOneof("image_resizer_oneof")
    if kind == "fixed_shape_resizer":
        return kind, resizer.fixed_shape_resizer.height
    if kind == "keep_aspect_ratio_resizer":
        return kind, resizer.keep_aspect_ratio_resizer.max_dimension
    return kind, None


def set_resizer_size(resizer, size: int) -> None:
    kind, current = resizer_size(resizer)
    if kind == "fixed_shape_resizer":
        resizer.fixed_shape_resizer.height = resizer.fixed_shape_resizer.width = size
    elif kind == "keep_aspect_ratio_resizer":
        keep = resizer.keep_aspect_ratio_resizer
        keep.min_dimension = max(1, round(keep.min_dimension * size / current))
        keep.max_dimension = size


def needed_size(stats: dict, template_size: int) -> tuple[int, str]:
    """The fitted input side for a from-scratch fixed-shape model, and why."""
    smallest = boxstats.smallest_class(stats)
    if smallest is None:
        return template_size, "no boxes recorded"
    name, share = smallest
    at_template = share * template_size
    if at_template >= MIN_OBJECT_PX:
        return template_size, (f"the smallest class {name!r} keeps {at_template:.0f} px at "
                               f"the template's {template_size} px (>= {MIN_OBJECT_PX})")
    wanted = health.needed_side(share)
    limit = template_size * MAX_SIZE_FACTOR
    size = min(wanted, limit)
    reason = (f"the smallest class {name!r} has a median short side of {share:.1%} of the "
              f"picture: {at_template:.0f} px at the template's {template_size} px, "
              f"{share * size:.0f} px at {size}")
    if wanted > limit:
        reason += (f" ({wanted} px would keep {MIN_OBJECT_PX} px; capped at "
                   f"{MAX_SIZE_FACTOR}x the template's side, about {MAX_SIZE_FACTOR ** 2}x "
                   "the step time; --image-size or --tile for more)")
    return size, reason


def fit(configs: dict, stats: dict | None, image_size: int | None, anchors: str,
        from_scratch: bool, overridden: list[str] = ()) -> Fitted:
    """Apply the input size and the anchors to `configs`; what --set gave (`overridden`
    keys) is left as it is."""
    from odhelper.od import api

    fitted = Fitted()
    resizer = api().config_util.get_image_resizer_config(configs["model"])
    kind, template_size = resizer_size(resizer)
    if any("image_resizer" in key for key in overridden):
        fitted.choices.append(f"input size {template_size} px: set by --set")
    elif image_size:
        set_resizer_size(resizer, image_size)
        fitted.choices.append(f"input size {image_size} px: --image-size")
    elif not stats:
        fitted.choices.append(f"input size {template_size} px: the template's (the dataset "
                              "has no box statistics: made by an earlier version)")
    elif from_scratch and kind == "fixed_shape_resizer":
        size, reason = needed_size(stats, template_size)
        set_resizer_size(resizer, size)
        fitted.choices.append(f"input size {size} px: {reason}")
    else:
        why = "pre-trained weights keep it" if not from_scratch else f"{kind} kept"
        fitted.choices.append(f"input size {template_size} px: the template's ({why}; "
                              "--image-size to change it)")
    fitted.image_size = resizer_size(resizer)[1]
    if any("anchor_generator" in key for key in overridden):
        fitted.choices.append("anchors: set by --set")
    elif anchors == "auto" and from_scratch and stats and stats.get("sample"):
        choice = fit_anchors(configs["model"], stats["sample"], fitted.image_size)
        if choice:
            fitted.choices.append(choice)
    for choice in fitted.choices:
        log.info("Fitted to the data: %s", choice)
    return fitted


# -- anchors -------------------------------------------------------------------------------
def _feature_map_sizes(size: int, layers: int) -> list[int]:
    sizes = [math.ceil(size / 16)]
    while len(sizes) < layers:
        sizes.append(math.ceil(sizes[-1] / 2))
    return sizes


def _box_specs(generator, min_scale, max_scale, ratios, reduce_lowest) -> list[list[tuple]]:
    """(scale, aspect ratio) per layer, as the OD API's create_ssd_anchors lays them out."""
    layers = generator.num_layers
    scales = [min_scale + (max_scale - min_scale) * i / (layers - 1) for i in range(layers)]
    scales.append(1.0)
    specs = []
    for layer in range(layers):
        if layer == 0 and reduce_lowest:
            specs.append([(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)])
            continue
        found = [(scales[layer], ratio) for ratio in ratios]
        if generator.interpolated_scale_aspect_ratio > 0:
            found.append((math.sqrt(scales[layer] * scales[layer + 1]),
                          generator.interpolated_scale_aspect_ratio))
        specs.append(found)
    return specs


def _anchors(specs, sizes) -> np.ndarray:
    """Every anchor as (ymin, xmin, ymax, xmax), shares of the input's sides."""
    found = []
    for layer_specs, cells in zip(specs, sizes):
        centres = (np.arange(cells) + 0.5) / cells
        cy, cx = [grid.ravel() for grid in np.meshgrid(centres, centres, indexing="ij")]
        for scale, ratio in layer_specs:
            height, width = scale / math.sqrt(ratio), scale * math.sqrt(ratio)
            found.append(np.stack([cy - height / 2, cx - width / 2, cy + height / 2,
                                   cx + width / 2], axis=1))
    return np.concatenate(found).astype(np.float32)


def coverage(boxes: np.ndarray, anchors: np.ndarray, threshold: float) -> tuple[float, float]:
    """Share of `boxes` whose best anchor reaches `threshold` IoU, and the mean best IoU."""
    best = np.zeros(len(boxes), np.float32)
    area_a = (anchors[:, 2] - anchors[:, 0]) * (anchors[:, 3] - anchors[:, 1])
    for start in range(0, len(boxes), 256):
        chunk = boxes[start:start + 256, None, :]
        height = np.clip(np.minimum(chunk[..., 2], anchors[:, 2]) -
                         np.maximum(chunk[..., 0], anchors[:, 0]), 0, None)
        width = np.clip(np.minimum(chunk[..., 3], anchors[:, 3]) -
                        np.maximum(chunk[..., 1], anchors[:, 1]), 0, None)
        inter = height * width
        area_b = (chunk[..., 2] - chunk[..., 0]) * (chunk[..., 3] - chunk[..., 1])
        best[start:start + 256] = (inter / (area_b + area_a - inter + 1e-9)).max(axis=1)
    return float((best >= threshold).mean()), float(best.mean())


def _ratio_candidates(boxes: np.ndarray, template: list[float], size: int) -> list[tuple]:
    aspect = (boxes[:, 3] - boxes[:, 1]) / np.maximum(boxes[:, 2] - boxes[:, 0], 1e-6)
    count = max(1, len(template))
    steps = (np.arange(count) + 0.5) / count
    fitted = tuple(round(float(r), 2) for r in np.exp(np.quantile(np.log(aspect), steps)))
    spread = tuple(round(float(r), 2) for r in np.quantile(aspect, (0.1, 0.5, 0.9)))
    return list(dict.fromkeys([tuple(template), fitted, spread]))


def fit_anchors(model_config, sample: list, size: int) -> str | None:
    """Refit the grid anchors of an SSD model to the sampled boxes when that clearly
    improves their coverage; the choice as said in the log (None: no grid anchors)."""
    if model_config.WhichOneof("model") != "ssd":
        return None
    ssd = model_config.ssd
    if ssd.anchor_generator.WhichOneof("anchor_generator_oneof") != "ssd_anchor_generator":
        return None
    generator = ssd.anchor_generator.ssd_anchor_generator
    threshold = ssd.matcher.argmax_matcher.matched_threshold or 0.5
    data = np.asarray(sample, np.float32)[:, 1:]
    boxes = np.stack([data[:, 1] - data[:, 3] / 2, data[:, 0] - data[:, 2] / 2,
                      data[:, 1] + data[:, 3] / 2, data[:, 0] + data[:, 2] / 2], axis=1)
    sizes = _feature_map_sizes(size, generator.num_layers)
    template = (generator.min_scale, generator.max_scale, tuple(generator.aspect_ratios),
                generator.reduce_boxes_in_lowest_layer)
    scored = {}
    for min_scale in sorted({0.04, 0.06, 0.1, 0.15, 0.2, round(generator.min_scale, 3)}):
        for max_scale in sorted({0.6, 0.8, 0.95, round(generator.max_scale, 3)}):
            for ratios in _ratio_candidates(boxes, list(generator.aspect_ratios), size):
                for reduce_lowest in (True, False):
                    candidate = (min_scale, max_scale, ratios, reduce_lowest)
                    specs = _box_specs(generator, *candidate)
                    scored[candidate] = coverage(boxes, _anchors(specs, sizes), threshold)
    before = scored.get(template) or coverage(
        boxes, _anchors(_box_specs(generator, *template), sizes), threshold)
    best = max(scored, key=lambda c: scored[c])
    after = scored[best]
    text = (f"boxes whose best anchor reaches IoU {threshold:g}: {before[0]:.0%} with the "
            f"template's anchors (mean best IoU {before[1]:.2f})")
    if after[0] - before[0] < MIN_GAIN:
        return f"anchors: the template's ({text}; no candidate gains {MIN_GAIN:.0%})"
    min_scale, max_scale, ratios, reduce_lowest = best
    generator.min_scale, generator.max_scale = min_scale, max_scale
    del generator.aspect_ratios[:]
    generator.aspect_ratios.extend(ratios)
    generator.reduce_boxes_in_lowest_layer = reduce_lowest
    return (f"anchors fitted: scales {min_scale:g}-{max_scale:g}, aspect ratios "
            f"{', '.join(f'{r:g}' for r in ratios)}, lowest layer "
            f"{'reduced' if reduce_lowest else 'full'} ({text}; {after[0]:.0%} fitted, mean "
            f"{after[1]:.2f}; --anchors template to keep the template's)")
