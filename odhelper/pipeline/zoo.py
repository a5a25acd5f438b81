"""TF2 model-zoo checkpoints: download with a progress bar into a cache, verify,
extract atomically, reuse. Cache: $ODHELPER_CACHE or ~/.cache/odhelper.
$ODHELPER_ZOO_URL (a template with {name}) points at a mirror.

Layout: CACHE/zoo/<archive name>/checkpoint/ckpt-0.{index,data-*}
"""
from __future__ import annotations

import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from odhelper import files, log
from odhelper.errors import OdhelperError
from odhelper.pipeline import registry

CHUNK = 1 << 20


def cache_dir() -> Path:
    root = os.environ.get("ODHELPER_CACHE") or Path.home() / ".cache" / "odhelper"
    return Path(root) / "zoo"


def url_of(spec: registry.ModelSpec) -> str:
    template = os.environ.get("ODHELPER_ZOO_URL")
    return template.format(name=spec.checkpoint) if template else spec.url


def checkpoint_prefix(folder: Path) -> Path | None:
    """.../checkpoint/ckpt-0 inside an extracted archive (or any ckpt-N), else None."""
    for candidate in (folder / "checkpoint", folder):
        indexes = sorted(candidate.glob("ckpt-*.index")) if candidate.is_dir() else []
        if indexes:
            return indexes[-1].with_suffix("")
    nested = sorted(folder.glob("*/checkpoint/ckpt-*.index")) if folder.is_dir() else []
    return nested[-1].with_suffix("") if nested else None


def cached(spec: registry.ModelSpec) -> Path | None:
    if not spec.checkpoint:
        return None
    return checkpoint_prefix(cache_dir() / spec.checkpoint)


def _safe_members(archive: tarfile.TarFile, source: Path) -> list[tarfile.TarInfo]:
    members = archive.getmembers()
    for member in members:
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or member.issym() or member.islnk():
            raise OdhelperError(f"{source}: unsafe entry {member.name!r} in the archive")
    if not any(m.name.endswith(".index") and "ckpt-" in m.name for m in members):
        raise OdhelperError(f"{source}: no checkpoint (ckpt-N.index) inside: not a TF2 zoo "
                            "archive")
    return members


def extract(archive_path: Path, name: str) -> Path:
    """Verify and extract a zoo .tar.gz into CACHE/<name> atomically; return the prefix."""
    target = cache_dir() / name
    try:
        with tarfile.open(archive_path, "r:*") as archive, files.atomic_dir(target) as tmp:
            members = _safe_members(archive, archive_path)
            archive.extractall(tmp, members=members, filter="data")
            _flatten_single_top_folder(tmp)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise OdhelperError(f"{archive_path}: damaged or incomplete archive ({exc})") from None
    prefix = checkpoint_prefix(target)
    if prefix is None:
        raise OdhelperError(f"{archive_path}: extracted, but no checkpoint found")
    return prefix


def _flatten_single_top_folder(folder: Path) -> None:
    """<name>/checkpoint/... -> checkpoint/... (zoo archives have one top folder)."""
    entries = list(folder.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        inner = entries[0]
        for child in list(inner.iterdir()):
            shutil.move(str(child), folder / child.name)
        inner.rmdir()


def _fetch(url: str, destination: Path, timeout: float = 30.0) -> None:
    """Stream `url` to `destination` with a progress bar; check the length."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) URL
        total = int(response.headers.get("Content-Length") or 0) or None
        received = 0
        with files.atomic_open(destination, "wb") as out, \
                log.progress(total=total, unit="B", unit_scale=True,
                             desc=destination.name) as bar:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
            if total is not None and received != total:
                raise OdhelperError(f"{url}: download interrupted ({received} of {total} "
                                    "bytes); run the command again")


def offline_message(spec: registry.ModelSpec, reason: str) -> str:
    return (f"cannot download the {spec.name} checkpoint ({reason}). On a connected machine "
            f"download {url_of(spec)} and either put it at "
            f"{cache_dir() / (spec.checkpoint + '.tar.gz')} (odhelper extracts it there) or "
            f"pass --weights /path/to/{spec.checkpoint}.tar.gz")


def download(spec: registry.ModelSpec) -> Path:
    """Checkpoint prefix of `spec`, downloading + extracting it if not cached."""
    if not spec.checkpoint:
        raise OdhelperError(f"{spec.name} has no model-zoo checkpoint: it trains from scratch")
    prefix = cached(spec)
    if prefix:
        log.info("Zoo checkpoint reused: %s", prefix)
        return prefix
    archive = cache_dir() / f"{spec.checkpoint}.tar.gz"
    if not archive.exists():
        url = url_of(spec)
        log.info("Downloading %s", url)
        try:
            _fetch(url, archive)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            raise OdhelperError(offline_message(spec, str(getattr(exc, "reason", exc)))) \
                from None
    try:
        return extract(archive, spec.checkpoint)
    except OdhelperError:
        archive.unlink(missing_ok=True)  # a bad archive must not be reused
        raise


def local(path: str | Path) -> Path:
    """--weights PATH: a .tar.gz (extracted into the cache), a folder, or a prefix."""
    path = Path(path).expanduser()
    if path.is_file() and tarfile.is_tarfile(path):
        name = path.name.removesuffix(".gz").removesuffix(".tar").removesuffix(".tgz")
        existing = checkpoint_prefix(cache_dir() / name)
        return existing or extract(path, name)
    if path.is_dir():
        prefix = checkpoint_prefix(path)
        if prefix:
            return prefix
    if Path(str(path) + ".index").exists():
        return path
    raise OdhelperError(f"{path}: not a checkpoint (expected a zoo .tar.gz, a folder with "
                        "checkpoint/ckpt-0.index, or a ckpt prefix)")


def resolve(spec: registry.ModelSpec, checkpoint: str | None, from_scratch: bool) -> str | None:
    """The fine-tune checkpoint for a run, or None (train from scratch: asked for, or a
    model without one). A zoo checkpoint that cannot be had stops the run with
    `offline_message` (never random weights unasked)."""
    if checkpoint:
        return str(local(checkpoint))
    if from_scratch or not spec.checkpoint:
        return None
    return str(download(spec))
