"""What a person looks at: drawn detections, prediction files and the HTML report.

`build_report(run_dir)` writes RUN/report.html (the `run` command calls it at its end).
"""


def build_report(run_dir, output=None, evaluate_if_missing: bool = True, samples: int = 8):
    """Write the self-contained HTML report of a run directory; return its path.

    Evaluates the best (else last) checkpoint first when RUN/eval/per_class.csv is
    missing, unless evaluate_if_missing is False."""
    from odhelper.report.html import build_report as build

    return build(run_dir, output, evaluate_if_missing, samples)
