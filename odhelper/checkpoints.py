"""Checkpoint files read without TensorFlow: which checkpoint of a folder is the newest,
whether one is complete, what tells two apart. (Which checkpoint "best", "last" or
"ckpt-N" means is the run folder's business: rundir.RunDir.checkpoint.)"""
from __future__ import annotations

import re
from pathlib import Path

CHECKPOINT_INDEX = "checkpoint"  # the file tf.train.CheckpointManager keeps per folder


def step_of(prefix: str) -> int:
    """N of a ckpt-N prefix (0 without a number)."""
    found = re.search(r"(\d+)$", prefix)
    return int(found.group(1)) if found else 0


def latest_in(folder: Path) -> str | None:
    """Newest checkpoint prefix of `folder`: the one its `checkpoint` file names, else
    the highest ckpt-N whose .index exists (no TensorFlow needed)."""
    if not folder.is_dir():
        return None
    state = folder / CHECKPOINT_INDEX
    if state.is_file():
        for line in state.read_text().splitlines():
            if line.startswith("model_checkpoint_path:"):
                name = line.split(":", 1)[1].strip().strip('"')
                path = Path(name) if Path(name).is_absolute() else folder / name
                if Path(f"{path}.index").is_file():
                    return str(path)
    return newest_complete(folder)


def newest_complete(folder: str | Path) -> str | None:
    """The highest ckpt-N of `folder` whose .index exists. TensorFlow writes the .index
    last, so that checkpoint is complete even when the `checkpoint` state file does not
    name it yet (a process killed between the two writes)."""
    numbered = sorted(Path(folder).glob("ckpt-*.index"), key=lambda p: step_of(p.stem))
    return str(numbered[-1].with_suffix("")) if numbered else None


def checkpoint_prefix(path: str | Path) -> str | None:
    """A checkpoint prefix (PATH.index exists) as it is, a folder as its newest
    checkpoint; None when neither."""
    if Path(f"{path}.index").is_file():
        return str(path)
    return latest_in(Path(path))


def checkpoint_identity(prefix: str | Path) -> str:
    """What tells two checkpoints apart without TensorFlow: the SHA-256 of the
    checkpoint's .index file (it holds every variable's checksum)."""
    import hashlib

    return hashlib.sha256(Path(f"{prefix}.index").read_bytes()).hexdigest()
