"""The original helper tool's per-round adoption table: `ID NAME 1 step 2 step ...`."""
from __future__ import annotations

from odhelper.active.state import ActiveState


def adoption_table(state: ActiveState) -> list[str]:
    """Rows of adopted pictures per class and round, then the total and the
    training-set size with its increase per round."""
    rounds = [r for r in state.rounds if r.round > 0]
    headers = ["ID", "NAME"] + [f"{r.round} step" for r in rounds]
    rows = [[str(i), name] + [str(r.count(name)) for r in rounds]
            for i, name in enumerate(state.classes, start=1)]
    totals = [sum(r.count(name) for name in state.classes) for r in rounds]
    rows.append(["", "Total"] + [str(t) for t in totals])
    size, sizes = state.boxed_train_images, []
    for total in totals:
        size += total
        sizes.append(size)
    rows.append(["", "Train images"] + [str(s) for s in sizes])
    increase = [f"+{t / max(s - t, 1):.1%}" for t, s in zip(totals, sizes)]
    rows.append(["", "Increase"] + increase)
    widths = [max(len(row[i]) for row in [headers] + rows) for i in range(len(headers))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
            for row in [headers] + rows]
