"""odhelper: LabelImg pictures -> trained, evaluated, exported TF2 detector."""

__version__ = "0.1.0"
