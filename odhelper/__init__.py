"""odhelper: LabelImg pictures -> trained, evaluated, exported TF2 detector."""
# Compat fix 1 (TF_USE_LEGACY_KERAS) must run before any odhelper module imports
# TensorFlow; importing the compat module applies it (its other fixes wait for apply()).
from odhelper.od import compat as _compat  # noqa: F401

__version__ = "0.1.0"

# The Python API (odhelper/api.py), loaded on first use so that `import odhelper` stays light.
_API = ("tfrecord", "run", "evaluate", "export", "load", "Detector", "Result")
__all__ = list(_API)


def __getattr__(name):
    if name in _API:
        from odhelper import api

        return getattr(api, name)
    raise AttributeError(f"module 'odhelper' has no attribute {name!r}")
