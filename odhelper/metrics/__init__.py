"""Detection quality in numbers: per-class and per-image tables.

`ImageResult` holds one validation picture's ground truth and detections (pixels);
`per_class.class_table` scores them with the OD API's own Pascal VOC and COCO
evaluators; `per_image.letter_table` is the T/F/N hand check from the talk that
presented the original helper tool; `tables` writes both as CSV / Markdown / text.
"""
from odhelper.metrics.matching import ImageResult, iou, match_detections

__all__ = ["ImageResult", "iou", "match_detections"]
