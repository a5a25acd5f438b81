"""Model-zoo download against a local HTTP server serving a real checkpoint tarball."""
from __future__ import annotations

import functools
import http.server
import os
import tarfile
import threading
from pathlib import Path

import pytest

from odhelper.errors import OdhelperError
from odhelper.pipeline import registry, zoo

SPEC = registry.get("ssd_mobilenet_v2")


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """A real TF2 checkpoint packed like a zoo archive: <name>/checkpoint/ckpt-1.*"""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    root = tmp_path_factory.mktemp("zoo_src")
    folder = root / SPEC.checkpoint
    tf.train.Checkpoint(weights=tf.Variable([1.0, 2.0, 3.0])).save(
        str(folder / "checkpoint" / "ckpt"))
    (folder / "pipeline.config").write_text("model {}\n")
    path = root / f"{SPEC.checkpoint}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=SPEC.checkpoint)
    return path


class TruncatingHandler(http.server.SimpleHTTPRequestHandler):
    """Announces the full length, sends half, hangs up (a dropped connection)."""

    def do_GET(self):  # noqa: N802 - http.server API
        data = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: Path, handler):
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ODHELPER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "zoo"


def use_server(monkeypatch, server) -> None:
    monkeypatch.setenv("ODHELPER_ZOO_URL",
                       f"http://127.0.0.1:{server.server_address[1]}/{{name}}.tar.gz")


def test_download_extracts_verifies_and_reuses(archive, cache, monkeypatch):
    server = serve(archive.parent, QuietHandler)
    use_server(monkeypatch, server)
    try:
        prefix = zoo.download(SPEC)
    finally:
        server.shutdown()
    assert prefix == cache / SPEC.checkpoint / "checkpoint" / "ckpt-1"
    assert Path(str(prefix) + ".index").exists()
    assert zoo.cached(SPEC) == prefix
    import tensorflow as tf
    restored = tf.Variable([0.0, 0.0, 0.0])
    tf.train.Checkpoint(weights=restored).restore(str(prefix)).assert_consumed()
    assert restored.numpy().tolist() == [1.0, 2.0, 3.0]
    # server gone: the cache answers
    assert zoo.download(SPEC) == prefix
    assert zoo.resolve(SPEC, None, from_scratch=False) == str(prefix)


def test_interrupted_download_leaves_no_cache(archive, cache, monkeypatch):
    server = serve(archive.parent, TruncatingHandler)
    use_server(monkeypatch, server)
    try:
        with pytest.raises(OdhelperError, match="interrupted|damaged|cannot download"):
            zoo.download(SPEC)
    finally:
        server.shutdown()
    leftovers = sorted(p.name for p in cache.iterdir()) if cache.exists() else []
    assert leftovers == []
    assert zoo.cached(SPEC) is None


def test_damaged_archive_is_not_extracted_nor_kept(archive, cache, tmp_path, monkeypatch):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / archive.name).write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    server = serve(bad, QuietHandler)
    use_server(monkeypatch, server)
    try:
        with pytest.raises(OdhelperError, match="damaged or incomplete"):
            zoo.download(SPEC)
    finally:
        server.shutdown()
    assert not (cache / SPEC.checkpoint).exists()
    assert not (cache / archive.name).exists()


def test_offline_message_says_what_and_where(cache, monkeypatch):
    monkeypatch.setenv("ODHELPER_ZOO_URL", "http://127.0.0.1:9/{name}.tar.gz")
    with pytest.raises(OdhelperError) as caught:
        zoo.download(SPEC)
    message = str(caught.value)
    assert f"{SPEC.checkpoint}.tar.gz" in message
    assert str(cache / f"{SPEC.checkpoint}.tar.gz") in message
    assert "--weights" in message
    # a run stops with the same message instead of training from random weights
    with pytest.raises(OdhelperError, match="cannot download"):
        zoo.resolve(SPEC, None, from_scratch=False)
    assert zoo.resolve(SPEC, None, from_scratch=True) is None


def test_offline_run_stops_before_training(cache, tmp_path):
    """`odhelper run` offline, no checkpoint, no --from-scratch: exit 1 with the
    message naming the archive and where to put it; nothing trained."""
    import subprocess
    import sys

    from run_support import make_pictures

    pictures = make_pictures(tmp_path / "pictures", count=6)
    run_dir = tmp_path / "run"
    env = dict(os.environ, ODHELPER_CACHE=str(cache.parent),
               ODHELPER_ZOO_URL="http://127.0.0.1:9/{name}.tar.gz",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    done = subprocess.run(
        [sys.executable, "-m", "odhelper", "run", "-i", str(pictures), "-d",
         str(tmp_path / "dataset"), "-r", str(run_dir), "-m", SPEC.name,
         "-n", "2", "--eval-mode", "none", "--no-export", "--no-report"],
        env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "cannot download" in output and str(cache / f"{SPEC.checkpoint}.tar.gz") in output
    assert "Traceback" not in output and "FROM SCRATCH" not in output
    assert not list(run_dir.glob("checkpoints/ckpt-*"))


def test_local_checkpoint_tarball_and_folder(archive, cache):
    prefix = zoo.local(archive)
    assert prefix == cache / SPEC.checkpoint / "checkpoint" / "ckpt-1"
    assert zoo.local(cache / SPEC.checkpoint) == prefix
    assert zoo.local(prefix) == prefix
    with pytest.raises(OdhelperError, match="not a checkpoint"):
        zoo.local(archive.parent / "nothing-here")


def test_model_without_zoo_checkpoint(cache):
    spec = registry.get("ssd_mobilenet_v2_cpu")
    assert zoo.resolve(spec, None, from_scratch=False) is None
    with pytest.raises(OdhelperError, match="from scratch"):
        zoo.download(spec)


def test_zoo_commands(archive, cache, capsys):
    from odhelper import cli

    assert cli.main(["zoo", "download", "ssd_mobilenet_v2", "--checkpoint", str(archive)]) == 0
    assert capsys.readouterr().out.strip().endswith("checkpoint/ckpt-1")
    assert cli.main(["zoo", "list"]) == 0
    listing = capsys.readouterr().out
    for name in registry.MODELS:
        assert name in listing
    row = next(line for line in listing.splitlines() if line.startswith("ssd_mobilenet_v2 "))
    assert " yes " in row  # cached by the download above
    assert str(cache) in listing
