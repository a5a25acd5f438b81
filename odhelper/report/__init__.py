"""What a person looks at: drawn detections, prediction files and the HTML report.

`html.build_report(run_dir)` writes RUN/report.html from what the run directory
holds; `odhelper.workflows.report` evaluates first when needed.
"""
