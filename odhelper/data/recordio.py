"""TFRecord files without TensorFlow: framing, atomic shards, a checking reader.

Each record: uint64 length (little endian), uint32 masked crc32c of those 8
bytes, the data, uint32 masked crc32c of the data. A shard is written to a
hidden temp file and renamed into place only when all shards are complete, so
a killed conversion never leaves a `.record` that fails to read. (No fsync:
the rename protects against a killed process, which is the case that matters
here; a power cut may lose the newest shards, and dataset.json, written last
with fsync, then no longer matches.)
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import google_crc32c

_MASK_DELTA = 0xA282EAD8
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
TEMP_PREFIX = ".odhelper-"


class RecordError(Exception):
    """A TFRecord file is truncated or fails its checksums."""


def _mask(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    return _mask(google_crc32c.value(data))


def frame(data: bytes) -> bytes:
    """One record's bytes as TFRecordWriter writes them."""
    length = _LENGTH.pack(len(data))
    return b"".join((length, _CRC.pack(masked_crc(length)), data, _CRC.pack(masked_crc(data))))


def write_chunks(stream: BinaryIO, chunks: list[bytes]) -> int:
    """Write one record given as chunks (never joined: the image is not copied)."""
    size = sum(len(c) for c in chunks)
    length = _LENGTH.pack(size)
    crc = 0
    stream.write(length + _CRC.pack(masked_crc(length)))
    for chunk in chunks:
        crc = google_crc32c.extend(crc, chunk)
        stream.write(chunk)
    stream.write(_CRC.pack(_mask(crc)))
    return size + 16


def write_records(stream: BinaryIO, records: Iterable[bytes | list[bytes]]) -> int:
    """Write framed records (bytes, or lists of chunks); return the bytes written."""
    total = 0
    for data in records:
        total += write_chunks(stream, [data] if isinstance(data, (bytes, bytearray)) else data)
    return total


def temp_path(target: Path) -> Path:
    return target.with_name(f"{TEMP_PREFIX}{target.name}.{os.getpid()}.tmp")


def commit(temp: Path, target: Path) -> None:
    os.replace(temp, target)


def clean_temp_files(directory: Path) -> int:
    """Remove temp shards left by a killed run; return how many."""
    removed = 0
    if directory.is_dir():
        for leftover in directory.glob(f"{TEMP_PREFIX}*.tmp"):
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


def read_records(path: str | os.PathLike, check: bool = True) -> Iterator[bytes]:
    """Yield each record's data; raise RecordError on truncation or a bad checksum."""
    with open(path, "rb") as stream:
        while True:
            header = stream.read(12)
            if not header:
                return
            if len(header) < 12:
                raise RecordError(f"{path}: truncated record header")
            (length,) = _LENGTH.unpack_from(header)
            if check and _CRC.unpack_from(header, 8)[0] != masked_crc(header[:8]):
                raise RecordError(f"{path}: bad length checksum")
            data = stream.read(length)
            footer = stream.read(4)
            if len(data) < length or len(footer) < 4:
                raise RecordError(f"{path}: truncated record")
            if check and _CRC.unpack(footer)[0] != masked_crc(data):
                raise RecordError(f"{path}: bad data checksum")
            yield data


def shard_names(split: str, count: int) -> list[str]:
    return [f"{split}-{i:05d}-of-{count:05d}.record" for i in range(count)]
