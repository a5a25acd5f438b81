"""Room for every box: the input readers' max_number_of_boxes (and the model's
maximum detections) raised when a dataset has pictures with more boxes.

The OD API pads or cuts each picture's ground truth to max_number_of_boxes
without a word; a picture with more boxes would train and evaluate on a part.
"""
from __future__ import annotations

from odhelper import log

# Where a model config keeps its final non-max suppression.
NMS_FIELDS = ("post_processing", "second_stage_post_processing")


def _crowded_names(content: dict, limit: int = 5) -> str:
    names = [p["detail"].split(" has ")[0] for p in content.get("problems", [])
             if p.get("reason") == "many_boxes"]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more"
                                       if len(names) > limit else "")


def _nms_configs(model_config):
    model = getattr(model_config, model_config.WhichOneof("model"))
    for name in NMS_FIELDS:
        if name in model.DESCRIPTOR.fields_by_name and model.HasField(name):
            yield getattr(model, name).batch_non_max_suppression


def fit(configs: dict, content: dict) -> int | None:
    """Raise the limits to the dataset's `max_boxes_per_image` if they are lower;
    the new limit, or None when nothing changed."""
    need = int(content.get("max_boxes_per_image") or 0)
    readers = [configs["train_input_config"], *configs["eval_input_configs"]]
    if not need or all(reader.max_number_of_boxes >= need for reader in readers):
        return None
    log.warning("Pictures with up to %d boxes (%s): more than max_number_of_boxes %d; "
                "raised to %d in the config (train and eval input, the model's maximum "
                "detections)", need, _crowded_names(content) or "see dataset.json",
                min(reader.max_number_of_boxes for reader in readers), need)
    for reader in readers:
        reader.max_number_of_boxes = max(reader.max_number_of_boxes, need)
    for nms in _nms_configs(configs["model"]):
        nms.max_total_detections = max(nms.max_total_detections, need)
        nms.max_detections_per_class = max(nms.max_detections_per_class, need)
    return need
