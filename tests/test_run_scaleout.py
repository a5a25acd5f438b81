"""Scale-out with real processes: two MultiWorkerMirroredStrategy workers on
loopback ports (one shared run directory), MirroredStrategy over two logical CPUs,
and the evaluation sidecar ending with its parent (SIGTERM and SIGKILL)."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from run_support import make_pictures

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--model", "ssd_mobilenet_v2_cpu", "--batch-size", "2", "--no-report",
        "--set", "model.ssd.image_resizer.fixed_shape_resizer.height=64",
        "--set", "model.ssd.image_resizer.fixed_shape_resizer.width=64"]


def free_ports(count: int) -> list[int]:
    """Ports the kernel hands out for port 0, all held until every one is chosen."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def odhelper(args: list[str], tmp: Path, **env: str) -> subprocess.Popen:
    tmp.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp), **env)
    return subprocess.Popen([sys.executable, "-m", "odhelper", *args], cwd=ROOT,
                            env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def two_workers(args: list[str], tmp: Path) -> list[str]:
    """Run `odhelper run ARGS` as worker 0 (chief) and worker 1; both outputs."""
    cluster = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = [odhelper(["run", *args, "--strategy", "multi_worker"], tmp / f"tmp{index}",
                          TF_CONFIG=json.dumps({"cluster": {"worker": cluster},
                                                "task": {"type": "worker", "index": index}}))
                 for index in range(2)]
    outputs = [process.communicate(timeout=1800)[0] for process in processes]
    for index, (process, output) in enumerate(zip(processes, outputs)):
        assert process.returncode == 0, f"worker {index}:\n{output[-4000:]}"
    return outputs


def final_step(output: str) -> int:
    return int(re.search(r"Training Success.*final step : (\d+)", output).group(1))


def worker_digest(output: str) -> tuple[str, str]:
    found = re.search(r"Worker's last checkpoint (ckpt-\d+): variables digest (\w+)", output)
    return found.group(1), found.group(2)


def stages(run_dir: Path) -> list[str]:
    lines = (run_dir / "timings.jsonl").read_text().splitlines()
    return [json.loads(line)["stage"] for line in lines]


def no_scratch_left(*folders: Path) -> None:
    for folder in folders:
        assert not list(folder.glob("odhelper-worker-*")), list(folder.iterdir())


@pytest.mark.slow
def test_two_workers_train_evaluate_export_and_resume(tmp_path):
    from odhelper.engine.restore import checkpoint_digest

    pictures = make_pictures(tmp_path / "pictures", count=12, size=64)
    run_dir = tmp_path / "run"
    args = [*TINY, "-i", str(pictures), "--run-dir", str(run_dir), "--eval-every", "2"]
    chief, worker = two_workers([*args, "--steps", "2"], tmp_path)
    assert final_step(chief) == final_step(worker) == 2
    name, digest = worker_digest(worker)
    assert name == "ckpt-2" and digest == checkpoint_digest(str(run_dir / "checkpoints" / name))
    assert (run_dir / "export" / "saved_model" / "saved_model.pb").is_file()
    assert (run_dir / "best" / "best.json").is_file()
    assert len(list((run_dir / "dataset").glob("train-*.record"))) >= 2  # one per worker
    assert stages(run_dir).count("Evaluate model") == 1  # step 2, by the chief
    no_scratch_left(tmp_path / "tmp0", tmp_path / "tmp1")

    chief, worker = two_workers([*args, "--steps", "4", "--no-export"], tmp_path)
    assert "Continuing" in chief and final_step(chief) == final_step(worker) == 4
    name, digest = worker_digest(worker)
    assert name == "ckpt-4" and digest == checkpoint_digest(str(run_dir / "checkpoints" / name))
    assert json.loads((run_dir / "train_done.json").read_text())["final_step"] == 4
    recorded = stages(run_dir)  # a shared run directory shows each stage once per run
    assert recorded.count("Training") == 2 and recorded.count("Evaluate model") == 2
    assert recorded.count("TF Record Generator") == 1 and recorded.count("Export model") <= 1
    no_scratch_left(tmp_path / "tmp0", tmp_path / "tmp1")


def test_too_few_shards_is_refused_with_the_fix(tmp_path):
    from odhelper.errors import OdhelperError
    from odhelper.workflows.scaleout import check_shards

    class Reader:
        input_path = [str(tmp_path / "train-?????-of-00001.record")]

    class Config:
        tf_record_input_reader = Reader()

    (tmp_path / "train-00000-of-00001.record").write_bytes(b"")
    check_shards({"train_input_config": Config()}, 1)
    with pytest.raises(OdhelperError, match=r"1 training shard\(s\) for 2 workers.*--shards 2"):
        check_shards({"train_input_config": Config()}, 2)


@pytest.mark.slow
def test_mirrored_on_two_cpu_replicas_in_loops(tmp_path):
    pictures = make_pictures(tmp_path / "pictures", count=8, size=64)
    run_dir = tmp_path / "run"
    process = odhelper(["run", *TINY, "-i", str(pictures), "--run-dir", str(run_dir),
                        "--steps", "3", "--strategy", "mirrored", "--cpu-replicas", "2",
                        "--steps-per-loop", "2", "--eval-mode", "none", "--no-export"],
                       tmp_path / "tmp")
    output = process.communicate(timeout=1800)[0]
    assert process.returncode == 0, output[-4000:]
    logged = (run_dir / "odhelper.log").read_text()  # TensorFlow's own line: the log only
    assert re.search(r"MirroredStrategy with devices \('\S+CPU:0', '\S+CPU:1'\)", logged)
    # a loop of 2 steps, then one cut at --steps
    assert final_step(output) == 3 and (run_dir / "checkpoints" / "ckpt-3.index").is_file()


def test_roles_from_tf_config(monkeypatch):
    from odhelper.engine.distribute import chief_task, worker_count

    cluster = {"worker": ["a:1", "b:1", "c:1"]}
    for index, chief in ((0, True), (2, False)):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                    "task": {"type": "worker", "index": index}}))
        assert chief_task("multi_worker") is chief and chief_task("default")
        assert worker_count("multi_worker") == 3 and worker_count("mirrored") == 1
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["a:1"], **cluster},
                                                "task": {"type": "worker", "index": 0}}))
    assert not chief_task("multi_worker") and worker_count("multi_worker") == 4


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def sidecar_of(process: subprocess.Popen) -> tuple[int, list[str]]:
    """Read the run's output until it names the sidecar's pid."""
    seen = []
    for line in process.stdout:
        seen.append(line)
        found = re.search(r"Evaluation sidecar started \(pid (\d+)\)", line)
        if found:
            return int(found.group(1)), seen
    raise AssertionError("no sidecar started:\n" + "".join(seen[-40:]))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_sidecar_ends_with_its_parent(tmp_path):
    """SIGKILL gives the parent no chance to stop its sidecar: the sidecar notices alone.
    (SIGTERM with a sidecar, exit 143: tests/test_lifecycle_transfer.py.)"""
    pictures = make_pictures(tmp_path / "pictures", count=8, size=64)
    args = ["run", *TINY, "-i", str(pictures), "--run-dir", str(tmp_path / "run"),
            "--steps", "100000", "--eval-every", "2", "--eval-mode", "sidecar", "--no-export"]
    process = odhelper(args, tmp_path / "tmp")
    sidecar, _ = sidecar_of(process)
    time.sleep(3)  # the sidecar is loading TensorFlow or evaluating
    assert alive(sidecar)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=300)
    deadline = time.monotonic() + 10
    while alive(sidecar) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(sidecar), f"sidecar {sidecar} outlived its parent (SIGKILL)"
