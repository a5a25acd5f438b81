"""odhelper: LabelImg pictures -> trained, evaluated, exported TF2 detector."""
import os as _os
import sys as _sys

# The OD API needs Keras 2 (tf-keras); TensorFlow reads this once, at its first
# import, so it is set here, before any odhelper module can import TensorFlow.
if "tensorflow" not in _sys.modules:
    _os.environ["TF_USE_LEGACY_KERAS"] = "1"
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
