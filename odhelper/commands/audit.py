"""odhelper audit: data health, then the pictures whose boxes are most likely wrong."""
from __future__ import annotations

NAME = "audit"
HELP = ("find label errors: data health, then pictures ranked by how likely their boxes "
        "are wrong (class swaps, bad locations, overlooked objects, spurious boxes), judged "
        "by models that did not train on them; review/ opens in LabelImg")


def options_class():
    from odhelper.options.audit import AuditOptions
    return AuditOptions


def run(options) -> int:
    from odhelper.workflows.audit import audit

    audit(options)
    return 0
