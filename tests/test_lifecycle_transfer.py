"""Lifecycle, transfer learning (the original helper tool's core path): a real detection
checkpoint packed like a TF2 model-zoo archive (checkpoint/ckpt-0, pipeline.config,
saved_model/), made from a tiny run's export, served over a local HTTP server,
downloaded by `odhelper run` and fine-tuned on another dataset with another number
of classes. Also: SIGTERM with the evaluation sidecar exits 143 like everywhere."""
from __future__ import annotations

import functools
import http.server
import json
import re
import signal
import tarfile
import threading

import pytest

from faults_support import finish, odhelper, stop
from lifecycle_support import TINY, ok, stage_records, wait_for
from odhelper.pipeline import registry
from run_support import make_pictures

pytestmark = pytest.mark.slow

MODEL = "ssd_mobilenet_v2"  # a zoo model: its checkpoint is downloaded, not trained here


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def zoo_archive(tmp_path_factory):
    """<zoo name>.tar.gz made from a two-class run's export, and a server for it."""
    root = tmp_path_factory.mktemp("zoo")
    pictures = make_pictures(root / "source", count=12, size=64, seed=5)
    run = root / "source_run"
    ok("run", "-m", MODEL, "-i", pictures, "--run-dir", run, "-n", 2, "--eval-every", 2,
       "--from-scratch", "--no-report", "-sr", "0.67", *TINY)
    name = registry.get(MODEL).checkpoint
    archive = root / "mirror" / f"{name}.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for part in ("checkpoint", "pipeline.config", "saved_model"):
            tar.add(run / "export" / part, arcname=f"{name}/{part}")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(archive.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_zoo_checkpoint_downloaded_restored_and_fine_tuned(zoo_archive, tmp_path,
                                                           monkeypatch):
    port = zoo_archive.server_address[1]
    monkeypatch.setenv("ODHELPER_ZOO_URL", f"http://127.0.0.1:{port}/{{name}}.tar.gz")
    monkeypatch.setenv("ODHELPER_CACHE", str(tmp_path / "cache"))
    pictures = make_pictures(tmp_path / "three", count=15, size=64, seed=8)
    for index, xml in enumerate(sorted(pictures.glob("*.xml"))):  # three classes
        if index % 3 == 2:
            xml.write_text(re.sub(r"<name>\w+</name>", "<name>green</name>", xml.read_text()))
    run = tmp_path / "fine_tuned"
    text = ok("run", "-m", MODEL, "-i", pictures, "--run-dir", run, "-n", 2,
              "--eval-every", 2, "--no-report", "-sr", "0.67", *TINY)
    assert "Loading the pre-trained checkpoint" in text and "Transfer learning Success" in text
    config = (run / "pipeline.config").read_text()
    assert "num_classes: 3" in config and str(tmp_path / "cache") in config
    assert json.loads((run / "export" / "export.json").read_text())["step"] == 2
    assert stage_records(run, "Transfer learning")[-1]["status"] == "success"


def test_sigterm_with_the_evaluation_sidecar_exits_143(tmp_path):
    pictures = make_pictures(tmp_path / "shapes", count=10, size=64, seed=2)
    run = tmp_path / "run"
    process = odhelper("run", "-m", "ssd_mobilenet_v2_cpu", "-i", pictures, "--run-dir", run,
                       "-n", 400, "--eval-every", 200, "--checkpoint-every", 2,
                       "--eval-mode", "sidecar", "--from-scratch", "--no-export",
                       "--no-report", "-sr", "0.7", *TINY)
    try:
        wait_for(run / "checkpoints" / "ckpt-2.index", process)
        stop(process, signal.SIGTERM)
        code, text = finish(process)
    finally:
        stop(process)
    assert code == 143 and "stopped by SIGTERM" in text and "Ctrl-C" not in text, text
    assert "Evaluation sidecar stopped" in (run / "odhelper.log").read_text()
