"""The shape of the code: layers import downwards only, the run directory's layout
is spelled in one module, options come from one mechanism (flags and YAML)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from odhelper import cli, log
from odhelper.errors import OdhelperError, UsageError
from odhelper.options import fields
from odhelper.options.training import RunOptions
from odhelper.rundir import RunDir

PACKAGE = Path(__file__).resolve().parents[1] / "odhelper"
# Lower number = lower layer; a module may import its own layer's or lower ones.
LAYERS = {"commands": 6, "cli": 6, "api": 6, "workflows": 5, "engine": 4, "metrics": 4, "report": 4,
          "active": 4, "demo": 3, "data": 3, "pipeline": 3, "doctor": 3, "od": 2,
          "options": 1, "rundir": 1, "datasetdir": 1, "workspace": 1, "thresholds": 1,
          "detections": 0, "checkpoints": 0, "evalhistory": 0, "lock": 0, "signals": 0, "log": 0, "foreign": 0,
          "files": 0, "errors": 0, "constants": 0,
          "__init__": 0, "__main__": 6}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("odhelper"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("odhelper"))
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_layers_import_downwards_only():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "__init__.py":  # applies the compat fixes at import, by design
            continue
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        own = _part(".".join(relative.parts))
        for module in _imports(path):
            other = _part(module)
            if other in LAYERS and LAYERS[other] > LAYERS[own]:
                wrong.append(f"{relative} imports {module}")
    assert not wrong, "\n".join(sorted(wrong))


def test_report_only_renders():
    """report/ draws and writes pages; reading records, running models and the OD API
    belong to the workflows and the engine."""
    forbidden = ("engine", "od", "pipeline", "workflows", "commands", "cli")
    wrong = [f"{path.relative_to(PACKAGE.parent)} imports {module}"
             for path in (PACKAGE / "report").rglob("*.py") for module in _imports(path)
             if _part(module) in forbidden]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_run_layout_path_outside_the_run_directory_module():
    """No `x / "export"`, `Path("best")`... anywhere but rundir.py."""
    names = {"checkpoints", "best", "eval", "export", "train", "report.html",
             "train_done.json", "run.yaml", "pipeline.config", "label_map.pbtxt",
             "saved_model", "sidecar.stop", "stale.json", "best.json", "metrics.json",
             "active.json", "inputs", "adopted", "review", "demo.json", "demo.yaml",
             "model.tflite", "odhelper.log", "timings.jsonl", "model.onnx", "tflite.json",
             "artifacts.md", "artifacts.csv", "tflite_graph"}

    def spelled(node) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str) and (
            node.value in names or node.value.startswith(("dataset-", "ckpt-")))

    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "rundir.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            joined = isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and \
                spelled(node.right)
            built = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Path" \
                and any(spelled(arg) for arg in node.args)
            if joined or built:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not found, found


def test_only_the_dataset_owner_spells_dataset_json():
    """Every reader asks odhelper/datasetdir.py for a dataset's summary."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "datasetdir.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    "dataset.json" in node.value and not _in_docstring_or_message(node, path):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not found, found


def _in_docstring_or_message(node, path: Path) -> bool:
    """Prose that names the file (docstrings, messages, help) is not a path."""
    return " " in node.value


def _touch_checkpoint(folder: Path, number: int) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".index", ".data-00000-of-00001"):
        (folder / f"ckpt-{number}{suffix}").write_bytes(b"x")
    (folder / "checkpoint").write_text(f'model_checkpoint_path: "ckpt-{number}"\n')
    return str(folder / f"ckpt-{number}")


def test_which_checkpoint_one_rule(tmp_path):
    run = RunDir(tmp_path)
    with pytest.raises(OdhelperError, match="no checkpoint yet"):
        run.checkpoint("best")
    _touch_checkpoint(run.checkpoints, 2)
    last = _touch_checkpoint(run.checkpoints, 4)
    assert run.latest_step() == 4 and run.checkpoint("last") == last
    assert run.checkpoint("best") == last  # no best/ yet: the newest checkpoint
    best = _touch_checkpoint(run.best, 2)
    assert run.checkpoint("best") == best and run.checkpoint() == best
    assert run.checkpoint("ckpt-2") == str(run.checkpoints / "ckpt-2")
    assert run.checkpoint(str(run.best)) == best  # a folder: its newest checkpoint
    assert run.checkpoint(last) == last  # a prefix as it is
    with pytest.raises(OdhelperError, match="ckpt-9"):
        run.checkpoint("ckpt-9")


def _run_options(argv: list[str]) -> RunOptions:
    args = cli.build_parser(["run"] + argv).parse_args(["run"] + argv)
    return fields.from_namespace(RunOptions, args)


def test_options_saved_as_yaml_run_again_with_flags_overriding(tmp_path):
    first = _run_options(["--steps", "50", "--dataset", str(tmp_path), "--set", "a=1",
                          "--set", "b=2", "--batch-size", "4", "--run-dir", str(tmp_path / "r")])
    assert first.set == ["a=1", "b=2"] and first.checkpoint_every == first.eval_every == 1000
    saved = tmp_path / "run.yaml"
    fields.save_yaml(first, saved)
    assert _run_options(["--config", str(saved)]) == first
    again = _run_options(["--config", str(saved), "--steps", "80", "--no-export"])
    assert (again.steps, again.export, again.batch_size, again.set) == (80, False, 4,
                                                                        ["a=1", "b=2"])


@pytest.mark.parametrize("text, message", [
    ("stepz: 5\n", "unknown option 'stepz'; did you mean 'steps'"),
    ("steps: many\n", "steps: expected int"),
    ("- 1\n- 2\n", "expected `key: value` lines"),
    ("steps: [\n", "not valid YAML"),
])
def test_bad_config_file_is_a_usage_error(tmp_path, text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(UsageError, match=re.escape(message)):
        _run_options(["--config", str(config), "--dataset", str(tmp_path)])


def test_unknown_config_key_through_the_cli(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("eval_evry: 5\n")
    assert cli.main(["run", "--config", str(config), "--steps", "3",
                     "--dataset", str(tmp_path)]) == 2
    assert "did you mean 'eval_every'" in capsys.readouterr().err


def test_nested_log_targets_come_back(tmp_path):
    outer, inner = tmp_path / "outer", tmp_path / "inner"
    with log.to_dir(outer):
        log.info("outer one")
        with log.to_dir(inner):
            log.info("inner one")
            with log.stage("Inner stage"):
                pass
        log.info("outer two")
    assert log.output_dir() is None
    outer_text = (outer / log.LOG_FILE).read_text()
    assert "outer one" in outer_text and "outer two" in outer_text
    assert "inner one" not in outer_text and "inner one" in (inner / log.LOG_FILE).read_text()
    assert "Inner stage" in (inner / log.TIMINGS_FILE).read_text()
    assert not (outer / log.TIMINGS_FILE).exists()


def test_verbose_flag_reaches_every_command(tmp_path):
    try:
        assert cli.main(["-v", "report", "--run-dir", str(tmp_path / "none")]) == 1
        assert log.verbose()
    finally:
        log.setup()
    assert not log.verbose()
