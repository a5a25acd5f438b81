"""One meaning per flag in every command; the previous release's spellings still work
with one line saying so; --help groups and marks; "did you mean" for commands and models."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from faults_support import ROOT
from odhelper import cli
from odhelper.errors import UsageError
from odhelper.options import fields


def parsed(argv: list[str]):
    args = cli.build_parser(argv).parse_args(argv)
    return fields.from_namespace(args.module.options_class(), args)


@pytest.mark.parametrize("old, new, field", [
    (["run", "-d", "D", "-n", "5", "-o", "R"], ["run", "-d", "D", "-n", "5", "-r", "R"],
     "run_dir"),
    (["export", "-o", "R"], ["export", "-r", "R"], "run_dir"),
    (["active-learn", "--dataset", "X", "-p", "P", "-o", "R"],
     ["active-learn", "-i", "X", "-p", "P", "-r", "R"], "input"),
    (["run", "-d", "D", "-n", "5", "--checkpoint", "W"],
     ["run", "-d", "D", "-n", "5", "--weights", "W"], "weights"),
    (["config", "-m", "M", "-d", "D", "-o", "O", "--checkpoint", "W"],
     ["config", "-m", "M", "-d", "D", "-o", "O", "--weights", "W"], "weights"),
    (["augment-preview", "-r", "R", "-n", "4"], ["augment-preview", "-r", "R", "--count", "4"],
     "count"),
])
def test_old_spellings_still_work_and_say_so(old, new, field, capsys):
    before, after = parsed(old), parsed(new)
    said = capsys.readouterr().err
    assert getattr(before, field) == getattr(after, field)
    assert before.run_dir == after.run_dir if hasattr(after, "run_dir") else True
    assert said.count("is an old spelling of") == len([w for w in old if w not in new])
    assert "it still works in this release" in said


def test_predict_workers_became_calls(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    argv = ["predict", "-m", str(tmp_path / "m"), "-i", str(tmp_path), "-o", str(tmp_path)]
    assert parsed([*argv, "--workers", "3"]).calls == parsed([*argv, "--calls", "3"]).calls == 3
    assert "--workers is an old spelling of --calls" in capsys.readouterr().err


def test_one_meaning_per_flag():
    learn = parsed(["active-learn", "-i", "X", "-p", "P", "-r", "R", "--rounds", "2"])
    assert str(learn.run_dir) == "R" and learn.rounds == 2 and str(learn.input) == "X"
    for command in ("run", "export", "evaluate", "report", "active-learn", "augment-preview"):
        text = _help(command)
        # "-r RUN_DIR, --run-dir RUN_DIR" (Python 3.11, 3.12) or "-r, --run-dir RUN_DIR" (3.13)
        assert re.search(r"-r( RUN_DIR)?, --run-dir RUN_DIR", text), command
    assert "-n COUNT" not in _help("augment-preview")


def _help(command: str) -> str:
    parser = cli.build_parser([command])
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices[command].format_help()


def test_run_help_groups_and_required():
    text = _help("run")
    headings = [line for line in text.splitlines() if line.endswith("options:")]
    assert headings == ["options:", "data options:", "training options:", "evaluation options:",
                        "export options:", "augmentation options:"]
    main = text.split("data options:")[0]
    for flag in ("-m MODEL", "-i INPUT", "-d DATASET", "-n STEPS", "-r RUN_DIR"):
        assert flag in main, flag
    assert "required: TOTAL training steps" in main
    assert "required:" in _help("predict") and "required:" in _help("evaluate")


def test_recorded_old_keys_read_as_the_new_fields(tmp_path):
    from odhelper.options.training import RunOptions

    saved = tmp_path / "run.yaml"
    saved.write_text("dataset: D\nsteps: 5\ncheckpoint: W\nkeep_empty: false\n")
    values = fields.load_yaml(RunOptions, saved)
    assert values["weights"] == "W" and values["background"] is False


def test_did_you_mean():
    done = subprocess.run([sys.executable, "-m", "odhelper", "evalute", "-r", "x"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "unknown command 'evalute'; did you mean 'evaluate'?" in done.stderr
    from odhelper.pipeline import registry
    with pytest.raises(UsageError, match="did you mean 'ssd_mobilenet_v2'"):
        registry.get("ssd_mobilnet_v2")
