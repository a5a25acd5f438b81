"""Names used across odhelper, defined once: the OD API's metric keys and the
picture file suffixes odhelper reads."""

# Metric keys as the OD API's evaluators name them.
PASCAL_MAP50 = "PascalBoxes_Precision/mAP@0.5IOU"
COCO_MAP = "DetectionBoxes_Precision/mAP"
COCO_AP50 = "DetectionBoxes_Precision/mAP@.50IOU"
COCO_AR100 = "DetectionBoxes_Recall/AR@100"
HEADLINE_METRICS = (PASCAL_MAP50, COCO_MAP, COCO_AP50, COCO_AR100)
PASCAL_CLASS_AP50 = "PascalBoxes_PerformanceByCategory/AP@0.5IOU/"  # + class name

# Picture suffixes (lower case) that tfrecord, predict and active-learn accept.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                  ".jpe", ".jfif")

# Pictures larger than this (width x height) are refused by tfrecord and skipped by
# predict: training would decode them whole into every batch (`--max-pixels`).
MAX_PIXELS = 50_000_000

# The templates' max_number_of_boxes: ground-truth boxes per picture the input
# pipeline keeps (more are cut silently by the OD API; config raises it to fit).
TEMPLATE_MAX_BOXES = 100

# Video suffixes (lower case) that predict reads with imageio's ffmpeg.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
UNSET_STEPS = 10 ** 7  # total steps of a `run --time` before its first estimate
BATCHED_SIGNATURE = "serving_batched"  # the float_image_tensor signature of every export
MIN_OBJECT_PX = 24  # short side an object keeps at the model input: 1.5x the 16-px stride of SSD's first map
