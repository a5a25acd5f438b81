"""The deployment options and the artifact failure rule, without TensorFlow work."""
import math

import pytest

from odhelper import cli
from odhelper.errors import UsageError
from odhelper.metrics import artifacts
from odhelper.metrics.per_class import ClassRow
from odhelper.options import fields
from odhelper.options.artifacts import tflite_kinds
from odhelper.options.inference import ExportOptions
from odhelper.rundir import RunDir


def _export_options(argv):
    args = cli.build_parser(["export"] + argv).parse_args(["export"] + argv)
    return fields.from_namespace(ExportOptions, args)


def test_tflite_kinds_from_flags_and_old_yaml(tmp_path):
    assert _export_options(["-r", str(tmp_path), "--tflite"]).tflite_kinds == ["fp32"]
    given = _export_options(["-r", str(tmp_path), "--tflite", "int8,fp16,int8", "--onnx"])
    assert given.tflite_kinds == ["int8", "fp16"] and given.onnx and given.wants_artifacts
    assert not _export_options(["-r", str(tmp_path)]).wants_artifacts
    assert tflite_kinds(True) == ["fp32"] and tflite_kinds(False) == tflite_kinds("false") == []
    with pytest.raises(UsageError, match="unknown kind 'int4'"):
        _export_options(["-r", str(tmp_path), "--tflite", "fp32,int4"])
    with pytest.raises(UsageError, match="--max-ap-drop"):
        _export_options(["-r", str(tmp_path), "--max-ap-drop", "2"])


def test_export_places_are_the_run_directory_s():
    exported = RunDir("/r").exported
    assert exported.tflite().name == "model.tflite" == RunDir("/r").tflite.name
    assert (exported.tflite_fp16.name, exported.tflite_int8.name, exported.onnx.name) == (
        "model_fp16.tflite", "model_int8.tflite", "model.onnx")
    assert exported.artifacts_csv.parent == exported.artifacts_table.parent == RunDir("/r").export


def _row(name, ap_circle, ap_square, detections=10):
    classes = [ClassRow(n, 3, 3, ap, ap, ap, ap, 3, 3, 1.0, 1.0)
               for n, ap in (("circle", ap_circle), ("square", ap_square))]
    overall = (ap_circle + ap_square) / 2
    classes.append(ClassRow("all", 6, 6, overall, overall, overall, overall, 6, 6, 1.0, 1.0))
    return artifacts.ArtifactRow(name, name.lower(), 1_000_000, 5.0, detections, classes)


def test_a_drop_above_the_limit_or_no_detection_fails(tmp_path):
    rows = [_row("SavedModel", 0.9, 0.8), _row("TFLite fp16", 0.9, 0.78),
            _row("TFLite int8", 0.5, 0.4), _row("ONNX", 0.0, 0.0, detections=0)]
    failed = artifacts.judge(rows, 0.05)
    assert [r.name for r in failed] == ["TFLite int8", "ONNX"]
    assert "drop 0.4000 > --max-ap-drop 0.05" in rows[2].failure
    assert "detects nothing" in rows[3].failure and rows[1].ok
    artifacts.save(rows, tmp_path / "a.md", tmp_path / "a.csv", 0.5)
    lines = (tmp_path / "a.csv").read_text().splitlines()
    assert lines[0].split(",")[-3:] == ["AP@0.5 circle", "AP@0.5 square", "status"]
    assert lines[2].split(",")[6] == "0.0100" and lines[1].split(",")[6] == ""
    assert "FAILED" in lines[3] and lines[2].endswith(",ok")
    text = (tmp_path / "a.md").read_text()
    assert text.count("| class | pictures |") == 4  # each artifact's per-class table


def test_float_artifacts_must_agree_with_the_savedmodel_either_way():
    """fp32 TFLite and ONNX run the same weights on the same pixels: mAP@0.5 within 0.005
    either way, and their detection scores the SavedModel's picture by picture; a gap
    with agreeing scores (near ties reordered) is noted, not failed."""
    rows = [_row("SavedModel", 0.6, 0.6), _row("TFLite fp32", 0.62, 0.6),
            _row("ONNX", 0.596, 0.6), _row("TFLite fp16", 0.58, 0.6)]
    assert [r.name for r in artifacts.judge(rows, 0.05)] == ["TFLite fp32"]
    assert "not within 0.005" in rows[1].failure and "0.6100 vs 0.6000" in rows[1].failure
    rows = [_row("SavedModel", 0.6, 0.6), _row("ONNX", 0.58, 0.6)]
    assert [r.name for r in artifacts.judge(rows, 0.05)] == ["ONNX"]

    saved = [artifacts.top_scores([0.0121, 0.01205, 0.3]), artifacts.top_scores([])]
    assert saved == [[0.3, 0.0121, 0.012], []]
    same = [[0.3, 0.0121, 0.0119], []]  # near ties: 0.1 mAP apart, the same scores
    moved = [[0.3, 0.0121, 0.012], [0.05]]  # a detection where the SavedModel has none
    rows = [_row("SavedModel", 0.6, 0.6), _row("ONNX", 0.5, 0.5), _row("TFLite fp32", 0.6, 0.6)]
    for row, scores in zip(rows, (saved, same, moved)):
        row.top_scores = scores
    assert [r.name for r in artifacts.judge(rows, 0.0)] == ["TFLite fp32"]
    assert "differ from the SavedModel's by up to 1.0000" in rows[2].failure
    assert rows[1].ok and "mAP@0.5 +0.1000 from near-tied scores" in rows[1].note
    assert artifacts.summary_cells(rows)[1][1][-1].startswith("ok (mAP@0.5 +0.1000")
    rows[2].top_scores = [[0.33, 0.0121, 0.012], []]
    rows[2].failure = None
    assert [r.name for r in artifacts.judge(rows, 0.0)] == ["TFLite fp32"]
    assert "up to 0.0300" in rows[2].failure
    assert artifacts.ArtifactRow.from_dict(rows[1].to_dict()).top_scores == same


def test_a_drop_is_judged_as_the_table_shows_it():
    rows = [_row("SavedModel", 0.00490001, 0.0049), _row("TFLite int8", 0.0049, 0.0049)]
    assert not artifacts.judge(rows, 0.0) and rows[1].ok


def test_nan_map_counts_as_zero():
    rows = [_row("SavedModel", 0.3, 0.3), _row("ONNX", math.nan, math.nan)]
    rows[1].classes[-1].ap_voc = math.nan
    assert [r.name for r in artifacts.judge(rows, 0.05)] == ["ONNX"]
