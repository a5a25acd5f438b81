"""odhelper: LabelImg pictures -> trained, evaluated, exported TF2 detector."""
# Compat fix 1 (TF_USE_LEGACY_KERAS) must run before any odhelper module imports
# TensorFlow; importing the compat module applies it (its other fixes wait for apply()).
from odhelper.od import compat as _compat  # noqa: F401

__version__ = "0.1.0"
