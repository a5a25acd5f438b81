"""One home for every command's options.

fields.py      the mechanism: a dataclass field is a flag, a default, a run.yaml entry
data.py        odhelper tfrecord
"""
