"""`odhelper audit` end to end on a copy of the raccoon set with known corruptions
(boxes removed, shifted, added): two folds trained briefly (real TensorFlow, the
tiny CPU model), the ranking, the review folder, the page; then the same on a run's
validation pictures (`--run-dir`), linked from the run's report."""
from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from data_support import shared_dataset
from faults_support import finish, odhelper
from odhelper.data import voc

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
CORRUPTED = 16
PICTURES = 120  # of the 200: two folds of 60 validation pictures


def _bench():
    spec = importlib.util.spec_from_file_location("bench_audit",
                                                  ROOT / "scripts" / "bench_audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    raccoon = shared_dataset("raccoon")
    work = tmp_path_factory.mktemp("audit")
    subset = work / "subset"
    (subset / "annotations").mkdir(parents=True)
    for xml in sorted((raccoon / "annotations").glob("*.xml"),
                      key=lambda p: int(p.stem.split("-")[1]))[:PICTURES]:
        (subset / "annotations" / xml.name).write_text(xml.read_text())
    (subset / "images").symlink_to(raccoon / "images")
    bench = _bench()
    truth = bench.corrupt(subset / "annotations", work / "data", CORRUPTED, seed=1,
                          kinds=("removed", "shifted", "spurious"))
    out = work / "out"
    code, output = finish(odhelper("audit", "-i", work / "data", "-o", out, "--time", "160s",
                                   "--folds", "2", "--image-size", "96", "--top", "12"),
                          timeout=600)
    assert code == 0, output
    return work, out, truth, output, bench


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_corrupted_pictures_rank_near_the_top(audited):
    work, out, truth, _, bench = audited
    found = bench.scores(out / "label_issues.csv", truth, work / "data")
    print(found)  # the figures, for the log of the suite
    scored = len(_held_out(out))  # a picture without boxes and detections has no row
    assert found["pictures"] <= scored
    # modest floors (a quiet machine: 0.69 and 0.94; one busy with other runs: 0.31, 0.69)
    assert found[f"precision@{CORRUPTED}"] >= 1.5 * CORRUPTED / scored, found
    assert found["recall all@60"] > 60 / scored, found  # better than a random order


def _held_out(out: Path) -> list[str]:
    """The annotations each fold validates on, all folds."""
    held = []
    for fold in (1, 2):
        rows = _rows(out / "folds" / f"fold-{fold}" / "dataset" / "pictures.csv")
        held += [r["annotation"] for r in rows if r["split"] == "validate"]
    return held


def test_every_picture_is_scored_out_of_sample_once(audited):
    work, out, _, output, _ = audited
    held = _held_out(out)
    trained = {r["annotation"] for r in _rows(out / "folds" / "fold-1" / "dataset" /
                                              "pictures.csv")}
    assert len(held) == len(set(held)) == len(trained)  # each picture once, all pictures
    assert {r["annotation"] for r in _rows(out / "label_issues.csv")} <= set(held)
    assert "by 2 models each trained on the other folds" in output


def test_issues_say_what_and_where(audited):
    _, out, _, _, _ = audited
    rows = _rows(out / "label_issues.csv")
    assert list(rows[0]) == ["rank", "picture", "annotation", "kind", "class",
                             "suggested_class", "label_box", "model_box", "score"]
    assert {r["kind"] for r in rows} <= {"swap", "bad location", "overlooked", "spurious"}
    assert [int(r["rank"]) for r in rows] == sorted(int(r["rank"]) for r in rows)
    assert all(Path(r["annotation"]).is_file() and Path(r["picture"]).exists() for r in rows)


def test_review_folder_opens_in_labelimg_with_the_current_boxes(audited):
    _, out, _, _, _ = audited
    rows = _rows(out / "label_issues.csv")
    xmls = sorted((out / "review").glob("*.xml"))
    assert len(xmls) == 12 and len(list((out / "issues").glob("*.jpg"))) == 12
    first = xmls[0]
    assert first.name.startswith("001_") and first.with_suffix(".jpg").is_file()
    annotation, _, problems = voc.parse(first.read_bytes(), str(first))
    assert not problems
    source = next(r["annotation"] for r in rows if r["rank"] == "1")
    original, _, _ = voc.parse(Path(source).read_bytes(), source)
    assert sorted((b.xmin, b.ymin, b.xmax, b.ymax) for b in annotation.boxes) == \
        sorted((float(b.xmin), float(b.ymin), float(b.xmax), float(b.ymax))
               for b in original.boxes)


def test_page_and_health(audited):
    _, out, _, output, _ = audited
    page = (out / "audit.html").read_text()
    assert "Data health" in page and "Label issues" in page and "issues/001_" in page
    health = json.loads((out / "health.json").read_text())
    assert health["input_size"] == 96 and health["classes"][0]["name"] == "raccoon"
    assert "Data health at a 96 px input" in output


def test_a_runs_own_validation_pictures_and_the_report_link(audited):
    _, out, _, _, _ = audited
    run = out / "folds" / "fold-1" / "run"
    code, output = finish(odhelper("audit", "-r", run, "--top", "3"), timeout=300)
    assert code == 0, output
    assert "its training pictures are not scored" in output
    rows = _rows(run / "audit" / "label_issues.csv")
    held = {r["annotation"] for r in _rows(out / "folds" / "fold-1" / "dataset" / "pictures.csv")
            if r["split"] == "validate"}
    assert rows and {r["annotation"] for r in rows} <= held
    code, output = finish(odhelper("report", "-r", run, "--no-evaluate", "--samples", "0"),
                          timeout=300)
    assert code == 0, output
    assert 'href="audit/audit.html"' in (run / "report.html").read_text()
