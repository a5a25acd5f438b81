"""Fault suite, the environment: a full disk, a read-only or impossible output, bad
flags. One line naming the path and the cause, no traceback (unless -v), no
truncated file under a final name."""
from __future__ import annotations

import pytest

from faults_support import finish, odhelper, records_read_back, small_filesystem
from run_support import make_pictures


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """About 1.7 MB of pictures: more than the 1 MB disk below holds."""
    return make_pictures(tmp_path_factory.mktemp("env") / "pictures", 120, 160)


def _one_line_error(text: str, *expected: str) -> None:
    errors = [line for line in text.splitlines() if line.startswith("odhelper ")]
    assert len(errors) == 1 and all(e in errors[0] for e in expected), text
    assert "Traceback" not in text and "ERROR:absl" not in text, text


def test_disk_full(pictures, tmp_path):
    with small_filesystem(tmp_path / "small", "1m") as disk:
        output = disk / "dataset"
        code, text = finish(odhelper("tfrecord", "-i", pictures, "-o", output,
                                     "--workers", "2"))
        assert code == 1
        _one_line_error(text, str(output), "No space left on device")
        assert not output.exists()  # the folder it made is gone, nothing half-written left
        code, text = finish(odhelper("-v", "tfrecord", "-i", pictures, "-o", output,
                                     "--workers", "1"))
        assert code == 1 and "Traceback" in text  # -v shows where


def test_read_only_output(pictures, tmp_path):
    with small_filesystem(tmp_path / "ro", "1m", "ro") as disk:
        code, text = finish(odhelper("tfrecord", "-i", pictures, "-o", disk / "dataset"))
    assert code == 1
    _one_line_error(text, str(tmp_path / "ro" / "dataset"), "Read-only file system")


@pytest.mark.parametrize("where, cause", [("proc", "No such file or directory"),
                                          ("file", "a file is where a folder is needed")])
def test_impossible_output(pictures, tmp_path, where, cause):
    output = "/proc/odhelper-dataset" if where == "proc" else tmp_path / "a-file"
    if where == "file":
        output.write_text("in the way")
    code, text = finish(odhelper("tfrecord", "-i", pictures, "-o", output))
    assert code == 1
    _one_line_error(text, str(output), cause)


@pytest.mark.parametrize("argv, expected", [
    (["run", "--model", "ssd_mobilenet_v2_cpu", "--steps", "1", "-b", "-4"], "--batch-size"),
    (["run", "--model", "ssd_mobilenet_v2_cpu", "--steps", "1", "-b", "0"], "--batch-size"),
    (["tfrecord", "--images", "{tmp}/nowhere"], "--images folder not found"),
    (["report", "--run-dir", "{tmp}/no-run"], "no such run directory"),
    (["active-learn", "--pool", "{tmp}/nowhere"], "--pool folder not found"),
])
def test_usage_errors(pictures, tmp_path, argv, expected):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] == "run":
        argv += ["--dataset", str(tmp_path), "--run-dir", str(tmp_path / "run")]
    elif argv[0] == "tfrecord":
        argv += ["-i", str(pictures), "-o", str(tmp_path / "dataset")]
    elif argv[0] == "active-learn":
        argv += ["-i", str(pictures), "--run-dir", str(tmp_path / "al")]
    code, text = finish(odhelper(*argv))
    assert code in (1, 2)
    _one_line_error(text, expected)
    assert "[ERROR|" not in text  # said once, not again as a log line
    assert not (tmp_path / "run").exists() and not (tmp_path / "al" / "dataset-0").exists()
