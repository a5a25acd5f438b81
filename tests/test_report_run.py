"""odhelper report on a real (tiny) run: every section present, with real numbers."""
import base64
import json
import re

import pytest

from eval_support import cached_tiny_run, copy_run

pytestmark = pytest.mark.slow
SECTIONS = ("summary", "dataset", "losses", "map", "class-ap", "samples", "class-table",
            "per-image", "timings", "options")


def section(page: str, key: str) -> str:
    match = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    assert match, f"section {key} missing"
    return match.group(1)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Evaluate two checkpoints (two mAP points), then write the report via the CLI."""
    from odhelper import cli

    run = copy_run(cached_tiny_run(tmp_path_factory), tmp_path_factory.mktemp("report"))
    for checkpoint in ("ckpt-1", "last"):
        assert cli.main(["evaluate", "--run-dir", str(run), "--checkpoint", checkpoint,
                         "--per-image-table", "3"]) == 0
    assert cli.main(["report", "--run-dir", str(run)]) == 0
    return run, (run / "report.html").read_text()


def test_every_section_has_content(report):
    _, page = report
    for key in SECTIONS:
        assert 'class="note"' not in section(page, key), f"section {key} is empty"
    for key in ("dataset", "losses", "map", "class-ap", "samples", "timings"):
        images = re.findall(r'src="data:image/png;base64,([^"]+)"', section(page, key))
        assert images and base64.b64decode(images[0]).startswith(b"\x89PNG")
    assert not re.search(r'src="(?!data:)', page)  # self-contained


def test_numbers_come_from_the_run(report):
    run, page = report
    dataset = json.loads((run.parent / "dataset" / "dataset.json").read_text())
    for item in dataset["classes"]:
        assert (f"<td>{item['name']}</td><td>{item['train_images']}</td>"
                f"<td>{item['train_boxes']}</td>") in section(page, "dataset")
    table = section(page, "class-table")
    for row in (run / "eval" / "per_class.csv").read_text().splitlines()[1:]:
        assert "<td>" + "</td><td>".join(row.split(",")) + "</td>" in table
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert metrics["step"] == 4 and "(step 4)" in section(page, "summary")
    mean_ap = metrics["metrics"]["PascalBoxes_Precision/mAP@0.5IOU"]
    assert f"<b>{mean_ap:.3f}</b>" in section(page, "summary")
    curve = section(page, "map")
    assert "at step 4" in curve  # two evaluations: steps 2 and 4
    assert "total loss" in section(page, "losses") and "at step 4" in section(page, "losses")
    assert "Loss/total_loss" not in section(page, "losses")  # readable names in the legends
    summary = section(page, "summary")
    for fact in ("Model</b>: ssd_mobilenet_v2", "Steps</b>: 4 of 4", "Training time</b>",
                 "Operating points</b>", "Dataset</b>"):
        assert fact in summary, fact
    shown = min(8, dataset["splits"]["validate"]["images"])  # the grid holds up to 8
    assert f"{shown} pictures; white: ground truth" in section(page, "samples")
    stages = section(page, "timings")
    assert "<td>Transfer learning</td>" in stages and "<td>Evaluation</td>" in stages
    assert "ssd_mobilenet_v2" in section(page, "options")


def test_missing_sources_become_notes(tmp_path):
    from odhelper.options.inference import ReportOptions
    from odhelper.workflows.report import report

    run = tmp_path / "empty_run"
    run.mkdir()
    page = report(ReportOptions(run_dir=run, evaluate=False)).read_text()
    for key in SECTIONS:
        assert 'class="note"' in section(page, key)
