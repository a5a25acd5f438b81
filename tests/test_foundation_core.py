"""Logging format, stage timing records, typed options, atomic files, CLI."""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from odhelper import files, log
from odhelper.options import fields as settings
from odhelper.errors import UsageError

LINE = re.compile(r"^\[(INFO|WARNING|ERROR)\|[\w.]+\.py:\d+\] "
                  r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} > .+$")


def test_stage_logs_seed_format_and_json_record(tmp_path):
    log.setup(tmp_path)
    try:
        with log.stage("Transfer learning", "learning", model="ssd") as stage:
            stage.extra["loss"] = 0.5
        with pytest.raises(ValueError):
            with log.stage("Export model", "export"):
                raise ValueError("no checkpoint")
    finally:
        log.setup(None)
    lines = (tmp_path / log.LOG_FILE).read_text().splitlines()
    assert lines and all(LINE.match(line) for line in lines), lines
    assert "test_foundation_core.py" in lines[0]  # the caller's file, not log.py
    assert lines[0].endswith("> Transfer learning start [ model : ssd ]")
    assert re.search(r"> Transfer learning Success \[ Total learning time : "
                     r"0 Hour 0 Minute 0 Second \] \[ loss : 0.5 \]$", lines[1])
    assert "Export model Failed [ reason : ValueError: no checkpoint ]" in lines[3]
    records = [json.loads(x) for x in (tmp_path / log.TIMINGS_FILE).read_text().splitlines()]
    assert [r["stage"] for r in records] == ["Transfer learning", "Export model"]
    assert records[0]["status"] == "success" and records[0]["loss"] == 0.5
    assert records[0]["model"] == "ssd" and records[0]["seconds"] >= 0
    assert records[1]["status"] == "failed" and "no checkpoint" in records[1]["reason"]


def test_hms_matches_seed_tool():
    assert log.hms(27 * 60 + 51) == "0 Hour 27 Minute 51 Second"
    assert log.hms(3 * 3600 + 5) == "3 Hour 0 Minute 5 Second"


@dataclass
class _Options:
    input: Path = settings.option(Path("data"), "input folder", flags=("-i",))
    ratio: float = settings.option(0.9, "train share", flags=("-sr",))
    classes: list[str] = settings.option(help="classes", factory=list)
    strict: bool = settings.option(False, "stop on first problem")
    seed: int | None = settings.option(None, "seed")

    def __post_init__(self):
        if not 0 < self.ratio < 1:
            raise ValueError(f"ratio must be between 0 and 1, got {self.ratio}")


def test_options_dataclass_becomes_flags():
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser, _Options)
    parsed = settings.from_namespace(_Options, parser.parse_args(
        ["-i", "x", "--classes", "a", "b", "--strict"]))
    assert parsed == _Options(Path("x"), 0.9, ["a", "b"], True, None)
    assert settings.to_dict(parsed)["input"] == "x"
    with pytest.raises(UsageError, match="ratio must be between"):
        settings.from_namespace(_Options, parser.parse_args(["-sr", "3"]))


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "pipeline.config"
    files.write_text(target, "old")
    with pytest.raises(RuntimeError):
        with files.atomic_open(target) as stream:
            stream.write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["pipeline.config"]


def test_atomic_dir_swaps_whole_directory(tmp_path):
    target = tmp_path / "export"
    with files.atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError):
        with files.atomic_dir(target) as tmp:
            (tmp / "b").write_text("2")
            raise RuntimeError
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def _odhelper(*args):
    return subprocess.run([sys.executable, "-m", "odhelper", *args],
                          capture_output=True, text=True, timeout=300)


def test_cli_version_and_usage_errors():
    result = _odhelper("--version")
    assert result.returncode == 0 and result.stdout.startswith("odhelper ")
    result = _odhelper("no-such-command")
    assert result.returncode == 2 and "invalid choice" in result.stderr


@pytest.mark.slow
def test_doctor_reports_stack_ok():
    result = _odhelper("doctor")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Stack OK" in result.stderr
    assert "tf-object-detection-api  0.1" in result.stderr
    assert "one training step" in result.stderr


SIGNAL_INSIDE_TRACING = """
import json, os, signal, sys
import tensorflow as tf
from tensorflow.python.util import tf_stack
from odhelper import log, signals

signals.stop_on_sigterm()
update, entered = tf_stack.StackTraceMapper.update, []

def update_then_signal(self):  # SIGTERM arrives where CI saw it: entering an inner mapper
    if type(self).__name__ != "SentinelMapper":
        entered.append(self)
        if len(entered) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
    update(self)

tf_stack.StackTraceMapper.update = update_then_signal
log.setup(sys.argv[1])
try:
    with log.stage("Evaluate model", "evaluation"):
        def flip(x):  # autograph converts both (their source is a file's)
            return x if x > 1 else -x
        def decode(x):
            return flip(x) + 1
        tf.data.Dataset.range(3).map(decode)
except BaseException as exc:
    stop = signals.stop_behind(exc)
    print(json.dumps({"raised": type(exc).__name__, "stop": str(stop),
                      "code": signals.exit_code(stop) if stop else None}))
"""


def test_a_signal_inside_tensorflow_tracing_is_still_a_stop(tmp_path):
    """TensorFlow's tracing can turn a SIGTERM that lands inside it into an error of its
    own (CI saw 'Concurrent access?' on a run stopped while its evaluation was traced):
    the stop behind it is found, recorded as an interruption and gives exit code 143."""
    script = tmp_path / "stopped_while_tracing.py"
    script.write_text(SIGNAL_INSIDE_TRACING)
    done = subprocess.run([sys.executable, script, str(tmp_path)], cwd=Path(__file__).parents[1],
                          capture_output=True, text=True, timeout=300)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["raised"] == "AssertionError", result  # TensorFlow's error, as CI saw it
    assert result["stop"] == "SIGTERM" and result["code"] == 143, (result, done.stderr[-2000:])
    records = [json.loads(x) for x in (tmp_path / log.TIMINGS_FILE).read_text().splitlines()]
    assert records[-1]["status"] == "interrupted", records
    assert records[-1]["reason"] == "Stopped: SIGTERM", records
