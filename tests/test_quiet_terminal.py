"""The terminal shows odhelper's own lines: other libraries' output (TensorFlow's C++
side, absl, tf.logging, the OD API, pycocotools' prints, deprecation warnings) goes to
odhelper.log only, marked foreign. Each error is said once, on stderr, before anything
slow. A log line never lands on the progress bar's line."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from run_support import make_dataset

ROOT = Path(__file__).resolve().parents[1]
OWN_FILES = {p.name for p in (ROOT / "odhelper").rglob("*.py")}
LOG_LINE = re.compile(r"^\[[A-Z]+\|([^\]]+?)(:\d+)?\] ")
FOREIGN_TEXT = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] |[IWEF]\d{4} "
    r"|WARNING: All log messages before absl::InitializeLog"
    r"|WARNING:absl|WARNING:tensorflow|INFO:tensorflow"
    r"| ?Average (Precision|Recall)|creating index\.\.\.|index created!"
    r"|Loading and preparing results|DONE \(t=|Running per image evaluation"
    r"|Evaluate annotation type|Accumulating evaluation results|Instructions for updating"
    r"|  warnings\.warn|To enable the following instructions)")
FOREIGN_ANYWHERE = re.compile(r"deprecat|UserWarning|oneDNN|cuda|TF-TRT", re.IGNORECASE)
SMALL = ["--set", "model.ssd.image_resizer.fixed_shape_resizer.height=64",
         "--set", "model.ssd.image_resizer.fixed_shape_resizer.width=64"]


def is_foreign(line: str) -> bool:
    """A terminal line that is not odhelper's own: in the log format with a file that is
    not an odhelper module (or marked foreign), else TF C++/absl, pycocotools or
    deprecation text."""
    match = LOG_LINE.match(line)
    if match:
        return match.group(1) not in OWN_FILES
    return bool(FOREIGN_TEXT.match(line) or FOREIGN_ANYWHERE.search(line))


def foreign_share(text: str) -> tuple[float, list[str]]:
    lines = [line for line in text.splitlines() if line.strip()]
    foreign = [line for line in lines if is_foreign(line)]
    return len(foreign) / max(len(lines), 1), foreign


def odhelper(*argv, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "odhelper", *map(str, argv)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_the_classifier_tells_foreign_from_own():
    own = ["[INFO|run.py:189] 2026-01-01 00:00:00,000 > Program start",
           "class  pictures  boxes", "odhelper run: error: x: not found"]
    foreign = ["[INFO|config_util.py:552] 2026-01-01 00:00:00,000 > Maybe overwriting",
               "[INFO|foreign:stdout] 2026-01-01 00:00:00,000 > index created!",
               "I0000 00:00:1796517578.272894    6940 port.cc:153] oneDNN custom operations",
               "WARNING: All log messages before absl::InitializeLog() is called",
               " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.007",
               "creating index...", "Instructions for updating:",
               "  warnings.warn(", "W0000 00:00:1.2 cuda_dnn.cc:8] something"]
    assert not any(map(is_foreign, own)) and all(map(is_foreign, foreign))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short real `odhelper run` through the command line: (run folder, its argv,
    its terminal output)."""
    root = tmp_path_factory.mktemp("quiet")
    dataset = make_dataset(root)
    run_dir = root / "run"
    argv = ["run", "--model", "ssd_mobilenet_v2_cpu", "--from-scratch", "--steps", "2",
            "--eval-every", "2", "--batch-size", "2", "--dataset", dataset,
            "--run-dir", run_dir, "--no-export", "--no-report", *SMALL]
    done = odhelper(*argv)
    assert done.returncode == 0, done.stdout + done.stderr
    return run_dir, argv, done.stdout + done.stderr


@pytest.mark.slow
def test_run_terminal_shows_odhelper_and_the_log_keeps_the_rest(trained):
    run_dir, _, terminal = trained
    share, foreign = foreign_share(terminal)
    assert share <= 0.05, "\n".join(foreign)
    for line in ("Program start", "Training Success", "Step 2/2 (epoch ",
                 "Evaluate model Success", "Program Success"):
        assert line in terminal, terminal
    log = (run_dir / "odhelper.log").read_text()
    for line in terminal.splitlines():  # every line the terminal showed is in the log
        if LOG_LINE.match(line):
            assert line in log, line
    assert re.search(r"^\[INFO\|foreign:config_util\.py:\d+\] .* > Maybe overwriting "
                     r"num_classes: 2$", log, re.M), log
    assert re.search(r"^\[INFO\|foreign:stdout\] .* >  Average Precision", log, re.M), log
    assert not [line for line in log.splitlines()  # foreign lines are all marked
                if LOG_LINE.match(line) and is_foreign(line) and "|foreign:" not in line]


@pytest.mark.slow
def test_resume_that_takes_no_step_keeps_its_checkpoint_and_stays_quiet(trained):
    """A run stopped after its last checkpoint (before train_done.json) and run again
    trains nothing: its checkpoint must not be written again without the model (whose
    restore waits for a first step), and TensorFlow's ~740 'Value in checkpoint could
    not be found' lines must not appear."""
    from odhelper.engine.restore import checkpoint_digest
    from odhelper.rundir import RunDir

    run_dir, argv, _ = trained
    prefix = str(RunDir(run_dir).checkpoints / "ckpt-2")
    before = checkpoint_digest(prefix)
    RunDir(run_dir).done_marker.unlink()
    done = odhelper(*argv)
    terminal = done.stdout + done.stderr
    assert done.returncode == 0, terminal
    assert checkpoint_digest(prefix) == before
    assert "could not be found" not in terminal + (run_dir / "odhelper.log").read_text()
    share, foreign = foreign_share(terminal)
    assert share <= 0.05, "\n".join(foreign)


@pytest.mark.slow
def test_doctor_terminal(tmp_path):
    done = odhelper("doctor", "--no-build")
    terminal = done.stdout + done.stderr
    assert done.returncode == 0 and "Stack OK" in terminal, terminal
    share, foreign = foreign_share(terminal)
    assert share <= 0.05, "\n".join(foreign)


CHECKED = ("import sys\nfrom odhelper.cli import main\ncode = main(sys.argv[1:])\n"
           "print('tensorflow imported:', 'tensorflow' in sys.modules)\nsys.exit(code)\n")


@pytest.mark.parametrize("argv, expected", [
    (["run", "--model", "ssd_mobilenet_v2_cpu", "--steps", "2", "--dataset", "{missing}",
      "--run-dir", "{tmp}/run"], "{missing}/dataset.json: not found; make the dataset"),
    (["predict", "--model", "{missing}", "--input", "{tmp}", "--output", "{tmp}/out"],
     "{missing}: no such model"),
    (["predict", "--model", "{tmp}", "--input", "{missing}", "--output", "{tmp}/out"],
     "{missing}: no such picture, video or folder"),
    (["predict", "--model", "{tmp}/model", "--input", "{tmp}/empty", "--output", "{tmp}/out"],
     "{tmp}/empty: no pictures or videos"),
    (["config", "--model", "ssd_mobilenet_v2_cpu", "--dataset", "{missing}", "--output",
      "{tmp}/p.config"], "{missing}/dataset.json: not found"),
    (["evaluate", "--run-dir", "{missing}"], "{missing}: no such run directory"),
])
def test_each_error_once_on_stderr_before_tensorflow(tmp_path, argv, expected):
    (tmp_path / "empty").mkdir()
    (tmp_path / "model" / "saved_model").mkdir(parents=True)  # looks exported: the input is
    (tmp_path / "model" / "saved_model" / "saved_model.pb").touch()  # checked before loading
    fill = {"{tmp}": str(tmp_path), "{missing}": str(tmp_path / "missing")}
    argv, expected = ([_filled(a, fill) for a in argv], _filled(expected, fill))
    done = subprocess.run([sys.executable, "-c", CHECKED, *argv], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode in (1, 2), done.stdout + done.stderr
    assert done.stdout.splitlines() == ["tensorflow imported: False"], done.stdout
    said = [line for line in done.stderr.splitlines() if expected in line]
    assert len(said) == 1 and said[0].startswith(f"odhelper {argv[0]}: error: "), done.stderr
    assert "Traceback" not in done.stderr and "Failed" not in done.stderr, done.stderr
    assert not (tmp_path / "run").exists()
    if argv[0] == "predict" and (tmp_path / "out" / "odhelper.log").exists():  # the log
        assert "Predict Failed [ reason : OdhelperError: " in \
            (tmp_path / "out" / "odhelper.log").read_text()  # keeps the stage's line


def _filled(text: str, fill: dict[str, str]) -> str:
    for key, value in fill.items():
        text = text.replace(key, value)
    return text


BAR = ("import time\nfrom odhelper import log\nlog.setup()\n"
       "bar = log.progress(total=3, desc='bar', mininterval=0)\n"
       "for i in range(3):\n    time.sleep(0.05)\n    bar.update(1)\n"
       "    log.info('line %d', i)\nbar.close()\nlog.info('after')\n")


def _screen(raw: str) -> list[str]:
    """The text each terminal line ends with: a carriage return goes back to column 0
    and what follows overwrites (ANSI sequences dropped)."""
    raw = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", raw).replace("\r\n", "\n")
    lines = []
    for line in raw.split("\n"):
        cells: list[str] = []
        for part in line.split("\r"):
            cells[:len(part)] = list(part)
        lines.append("".join(cells).rstrip())
    return lines


def test_log_lines_never_share_the_progress_bars_line():
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    process = subprocess.Popen([sys.executable, "-c", BAR], stdin=follower, stdout=follower,
                               stderr=follower, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    os.close(follower)
    raw, deadline = b"", time.time() + 60
    while time.time() < deadline:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the other side closed (Linux: EIO)
            break
        if not chunk:
            break
        raw += chunk
    os.close(leader)
    assert process.wait(timeout=30) == 0
    lines = _screen(raw.decode("utf-8", "replace"))
    assert any(line.startswith("bar: 100%") for line in lines), lines  # a bar was drawn
    logged = [line for line in lines if "[INFO|" in line]
    assert len(logged) == 4 and all(line.startswith("[INFO|<string>:") for line in logged), lines


LIBRARY = """import logging, sys
logging.basicConfig(format="host: %(message)s")  # the host's own: WARNING and up
from odhelper import log
root, own = logging.getLogger(), logging.getLogger("odhelper")
before = (list(root.handlers), root.level, own.level, own.propagate)
with log.to_dir(sys.argv[1]):
    log.info("own info line")
    log.warning("own warning line")
    logging.getLogger("tensorflow").warning("foreign line")
assert (list(root.handlers), root.level, own.level, own.propagate) == before
"""


def test_a_library_caller_keeps_its_logging(tmp_path):
    """Without the command line, odhelper only adds its odhelper.log, with its own
    lines, to its own logger, for the time it logs into a folder; the host's handlers
    get what its levels let through, as before."""
    done = subprocess.run([sys.executable, "-c", LIBRARY, str(tmp_path)], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0 and done.stdout == "", done.stderr
    assert done.stderr.splitlines() == ["host: own warning line", "host: foreign line"]
    log = (tmp_path / "odhelper.log").read_text()
    assert "> own info line" in log and "> own warning line" in log
    assert "foreign line" not in log
