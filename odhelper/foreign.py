"""Output of the libraries odhelper drives (TensorFlow, absl, the OD API, pycocotools):
caught and turned into log records, so that it lands in odhelper.log, marked as
foreign, and not on the terminal (odhelper -v shows it there too; see log.py).

What is caught, and how:
- Python logging of other libraries (`tensorflow`, `absl`, the OD API's modules):
  nothing to catch, log.py routes records by their logger's name (`is_own`).
- Python warnings (deprecations, Keras UserWarnings): `logging.captureWarnings`.
- What pycocotools prints on stdout inside the evaluators: `printed()`.
- What TensorFlow's C++ side writes to file descriptor 2 while `tensorflow` is
  imported (oneDNN and CPU-feature notices, absl's InitializeLog warning):
  `quiet_tensorflow_import()`. Later C++ lines of level W/I are hidden by
  TF_CPP_MIN_LOG_LEVEL=2 (od/compat.py); errors stay on the terminal.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import io
import logging
import os
import re
import sys
import tempfile
from typing import Iterator

OWN = "odhelper"
FOREIGN = "odhelper.foreign"  # records made here from caught output
_CPP_ERROR = re.compile(r"^([EF]\d{4} |\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [EF] )")


def is_own(record: logging.LogRecord) -> bool:
    """A line odhelper wrote itself (its `odhelper` logger and children, not what was
    caught from other libraries)."""
    name = record.name
    return (name == OWN or name.startswith(OWN + ".")) and not (
        name == FOREIGN or name.startswith(FOREIGN + "."))


def _emit(source: str, text: str, level: int = logging.INFO) -> None:
    """One record per non-empty line of `text` on the logger `odhelper.foreign.<source>`;
    C++ error and fatal lines at ERROR (they stay on the terminal)."""
    logger = logging.getLogger(f"{FOREIGN}.{source}")
    for line in text.splitlines():
        if line.strip():
            logger.log(max(level, logging.ERROR if _CPP_ERROR.match(line) else level),
                       "%s", line.rstrip())


class _Lines(io.TextIOBase):
    """A text stream that logs each complete line it is given."""

    def __init__(self, source: str):
        self.source, self.pending = source, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        _emit(self.source, "\n".join(lines))
        return len(text)

    def flush(self) -> None:
        if self.pending:
            _emit(self.source, self.pending)
            self.pending = ""


@contextlib.contextmanager
def printed(source: str = "stdout") -> Iterator[None]:
    """What is printed on stdout inside the block (pycocotools' summaries) becomes log
    records instead."""
    stream = _Lines(source)
    try:
        with contextlib.redirect_stdout(stream):
            yield
    finally:
        stream.flush()


@contextlib.contextmanager
def _descriptor_2_to_log() -> Iterator[None]:
    """File descriptor 2 goes to a temporary file inside the block; its lines become
    log records after it (at ERROR when the block raised: they may say why)."""
    try:
        sink = tempfile.TemporaryFile()
    except OSError:  # no room for it: the lines go where they would have gone
        sink = None
    if sink is None:
        yield
        return
    with sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            _emit("stderr", sink.read().decode("utf-8", "replace"),
                  logging.ERROR if failed else logging.INFO)


class _QuietLoader(importlib.abc.Loader):
    """The `tensorflow` package's own loader, run with descriptor 2 caught."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = module.__spec__.loader = self.loader  # as if we were not here
        _remove_finder()
        with _descriptor_2_to_log():
            self.loader.exec_module(module)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as the path finder does, with a loader that catches fd 2."""

    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def _remove_finder() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietFinder)]


def quiet_tensorflow_import() -> None:
    """The first `import tensorflow` from now on writes what its C++ side prints into
    the log (an entry point's choice: a library leaves the host's stderr alone)."""
    if "tensorflow" not in sys.modules and not any(
            isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())
