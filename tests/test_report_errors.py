"""Error analysis on a real (tiny) run: evaluate writes the confusion matrix,
curves, operating points, galleries and thresholds.json; predict applies the
shipped thresholds; the report shows it all, checked in a headless browser."""
import base64
import csv
import json
import re
import shutil

import pytest

from browser_support import check_page
from eval_support import cached_tiny_run, copy_run

pytestmark = pytest.mark.slow
NEW_SECTIONS = ("confusion", "operating-points", "galleries", "test-split")


def _rows(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """Evaluate best/ on validate and on a test split, then write the report. The
    tiny dataset's train records are listed as its test split in dataset.json: the
    code path of a real test split (the pictures are not held out here)."""
    from odhelper import cli

    run = copy_run(cached_tiny_run(tmp_path_factory), tmp_path_factory.mktemp("errors"))
    dataset = run.parent / "dataset"
    content = json.loads((dataset / "dataset.json").read_text())
    shutil.copy(dataset / "train-00000-of-00001.record", dataset / "test-00000-of-00001.record")
    content["splits"]["test"] = dict(content["splits"]["train"],
                                     shards=["test-00000-of-00001.record"])
    (dataset / "dataset.json").write_text(json.dumps(content))
    assert cli.main(["evaluate", "--run-dir", str(run), "--gallery", "2",
                     "--per-image-table", "3", "--threshold", "0.05"]) == 0
    assert cli.main(["evaluate", "--run-dir", str(run), "--split", "test"]) == 0
    assert cli.main(["report", "--run-dir", str(run), "--samples", "2"]) == 0
    return run


def test_error_analysis_agrees_with_the_per_class_table(evaluated):
    eval_dir = evaluated / "eval"
    table = {r["class"]: r for r in _rows(eval_dir / "per_class.csv")}
    errors = {r["class"]: r for r in _rows(eval_dir / "errors.csv")}
    for name, row in table.items():
        assert int(errors[name]["TP"]) == int(row["correct"])
        assert int(errors[name]["TP"]) + int(errors[name]["FP"]) == int(row["detections"])
        assert int(errors[name]["boxes"]) == int(row["boxes"])
    matrix = list(csv.reader(open(eval_dir / "confusion_matrix.csv")))
    columns = [sum(int(r[i]) for r in matrix[1:]) for i in range(1, len(matrix[0]) - 1)]
    assert columns == [int(errors[n]["TP"]) + int(errors[n]["FP"]) for n in matrix[0][1:-1]]
    for name in ("confusion_matrix.png", "threshold_curves.png", "pr_curves.png"):
        assert (eval_dir / name).read_bytes().startswith(b"\x89PNG")
    assert list((eval_dir / "galleries").glob("*.png"))


def test_thresholds_shipped_with_the_model(evaluated):
    shipped = json.loads((evaluated / "export" / "thresholds.json").read_text())
    points = {r["class"]: r for r in _rows(evaluated / "eval" / "operating_points.csv")}
    assert shipped["metric"] == "max F1" and shipped["split"] == "validate"
    assert shipped["records"] and shipped["step"] == 4
    assert set(shipped["classes"]) == set(points)
    for name, item in shipped["classes"].items():
        assert item["threshold"] == pytest.approx(float(points[name]["threshold"]), abs=1e-4)
    test = json.loads((evaluated / "eval" / "test" / "metrics.json").read_text())
    assert test["split"] == "test" and "test-00000-of-00001.record" in test["records"][0]


def test_predict_follows_the_shipped_thresholds(evaluated, tmp_path_factory, tmp_path, caplog):
    from odhelper import cli

    thresholds = evaluated / "export" / "thresholds.json"
    shipped = json.loads(thresholds.read_text())
    shipped["classes"]["circle"]["threshold"] = 0.0
    shipped["classes"]["square"]["threshold"] = 1.0
    thresholds.write_text(json.dumps(shipped))
    pictures = tmp_path / "in"
    pictures.mkdir()
    for name in ("pic000.jpg", "pic001.jpg", "pic002.jpg"):
        shutil.copy(cached_tiny_run(tmp_path_factory).parent / "pictures" / name, pictures)
    with caplog.at_level("INFO"):
        assert cli.main(["predict", "--model", str(evaluated), "-i", str(pictures),
                         "-o", str(tmp_path / "shipped"), "--xml"]) == 0
    assert any("Score thresholds per class from" in m and "square 1.000" in m
               for m in caplog.messages)
    found = _rows(tmp_path / "shipped" / "detections.csv")
    assert found and {r["class"] for r in found} == {"circle"}
    xml = next((tmp_path / "shipped" / "xml").glob("*.xml")).read_text()
    assert "<name>circle</name>" in xml and "<name>square</name>" not in xml
    assert cli.main(["predict", "--model", str(evaluated), "-i", str(pictures),
                     "-o", str(tmp_path / "global"), "--threshold", "0.0"]) == 0
    assert {r["class"] for r in _rows(tmp_path / "global" / "detections.csv")} == \
        {"circle", "square"}


def test_report_sections_have_numbers(evaluated):
    page = (evaluated / "report.html").read_text()
    for key in NEW_SECTIONS:
        body = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S).group(1)
        assert 'class="note"' not in body and re.search(r">[^<]*\d", body), key
    assert "TEST split" in page
    for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page):
        assert base64.b64decode(data).startswith(b"\x89PNG")


def test_report_in_a_headless_browser(evaluated, tmp_path):
    seen = check_page(evaluated / "report.html", tmp_path / "report.png")
    assert seen["images"] >= 10 and seen["broken"] == 0
    assert seen["no_numbers"] == []
    assert seen["screenshot"].read_bytes().startswith(b"\x89PNG")
