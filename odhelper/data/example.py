"""Encode a `tf.train.Example` by hand (no TensorFlow, no protobuf runtime needed).

Wire format (tensorflow/core/example/{example,feature}.proto):
    Example  { Features features = 1; }
    Features { map<string, Feature> feature = 1; }   map entry: key = 1, value = 2
    Feature  { oneof: BytesList bytes_list = 1; FloatList float_list = 2;
               Int64List int64_list = 3; }
    BytesList { repeated bytes value = 1; }
    FloatList { repeated float value = 1 [packed]; }
    Int64List { repeated int64 value = 1 [packed]; }
Keys follow the OD API's TfExampleDecoder (data_decoders/tf_example_decoder.py).
"""
from __future__ import annotations

import struct
from typing import Sequence

from odhelper.data.annotation import Box

_SMALL = [bytes([n]) if n < 0x80 else bytes([(n & 0x7F) | 0x80, n >> 7]) for n in range(1 << 14)]
# Tags of length-delimited fields 1, 2 and 3 (field number << 3 | wire type 2).
_T1, _T2, _T3 = b"\x0a", b"\x12", b"\x1a"
_FLOATS: dict[int, struct.Struct] = {}


def _varint(value: int) -> bytes:
    if 0 <= value < 16384:
        return _SMALL[value]
    if value < 0:
        value += 1 << 64  # int64 negatives take ten bytes
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _head(number: int, length: int) -> bytes:
    return _varint(number << 3 | 2) + _varint(length)


def bytes_feature(values: Sequence[bytes]) -> bytes:
    body = b"".join([_T1 + _varint(len(v)) + v for v in values])
    return _T1 + _varint(len(body)) + body


def float_feature(values: Sequence[float]) -> bytes:
    if not values:
        return _T2 + b"\x00"
    packer = _FLOATS.get(len(values))
    if packer is None:
        packer = _FLOATS[len(values)] = struct.Struct(f"<{len(values)}f")
    packed = packer.pack(*values)
    body = _T1 + _varint(len(packed)) + packed
    return _T2 + _varint(len(body)) + body


def int64_feature(values: Sequence[int]) -> bytes:
    if not values:
        return _T3 + b"\x00"
    packed = b"".join([_varint(int(v)) for v in values])
    body = _T1 + _varint(len(packed)) + packed
    return _T3 + _varint(len(body)) + body


_KEYS: dict[str, bytes] = {}


def _key(key: str) -> bytes:
    """A map entry's key field, cached."""
    encoded = _KEYS.get(key)
    if encoded is None:
        name = key.encode()
        encoded = _KEYS[key] = _T1 + _varint(len(name)) + name
    return encoded


def _entry(key: str, value: bytes) -> bytes:
    body = _key(key) + _T2 + _varint(len(value)) + value
    return _T1 + _varint(len(body)) + body


def _framed(small: bytes, large_key: str | None, large: bytes) -> list[bytes]:
    """[Example header, small entries, large entry's header, large]: the image is framed
    without being copied."""
    chunks = [small]
    if large_key is not None:
        bytes_list = len(_head(1, len(large))) + len(large)
        feature = len(_head(1, bytes_list)) + bytes_list
        entry = len(_key(large_key)) + len(_head(2, feature)) + feature
        chunks += [_head(1, entry) + _key(large_key) + _head(2, feature) + _head(1, bytes_list)
                   + _head(1, len(large)), large]
    total = sum(len(c) for c in chunks)
    return [_head(1, total)] + chunks


def encode_chunks(features: dict[str, bytes], large_key: str | None = None,
                  large: bytes = b"") -> list[bytes]:
    """Serialized Example as a list of byte chunks whose concatenation is the message.

    `features` maps keys to encoded Features; `large` (the image bytes) becomes a
    one-value BytesList under `large_key`.
    """
    return _framed(b"".join([_entry(k, v) for k, v in sorted(features.items())]),
                   large_key, large)


def encode(features: dict[str, bytes]) -> bytes:
    """Serialized Example from {key: encoded Feature}, keys in sorted order."""
    return b"".join(encode_chunks(features))


# Entries whose bytes repeat from image to image, or whose header depends only on
# the key and the value's length: cached (cleared when large; this runs per image).
_CACHE: dict[tuple, bytes] = {}
_CACHE_LIMIT = 1 << 16


def _cached(key: tuple, make) -> bytes:
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        found = _CACHE[key] = make()
    return found


def _one_bytes(key: str, value: bytes) -> bytes:
    """Entry of a one-value BytesList: a cached header (key, lengths) + the value."""
    head = _CACHE.get(("bytes", key, len(value)))
    if head is None:
        whole = _entry(key, bytes_feature([value]))
        head = _cached(("bytes", key, len(value)), lambda: whole[:len(whole) - len(value)])
    return head + value


def _floats(key: str, values: list[float]) -> bytes:
    """Entry of a FloatList: a cached header (key, count) + the packed values."""
    packer = _FLOATS.get(len(values))
    if packer is None:
        packer = _FLOATS[len(values)] = struct.Struct(f"<{len(values)}f")
    packed = packer.pack(*values)
    head = _CACHE.get(("floats", key, len(values)))
    if head is None:
        whole = _entry(key, float_feature(values))
        head = _cached(("floats", key, len(values)), lambda: whole[:len(whole) - len(packed)])
    return head + packed


def _classes(boxes: Sequence[Box], label_ids: dict[str, int]) -> bytes:
    """The five per-box class entries (label, text, difficult, truncated, view),
    cached by their values: few combinations repeat over a whole dataset."""
    values = tuple([(label_ids[b.name], b.name, b.difficult, b.truncated, b.pose)
                    for b in boxes])
    found = _CACHE.get(("classes", values))
    if found is None:
        found = _cached(("classes", values), lambda: b"".join([
            _entry("image/object/class/label", int64_feature([v[0] for v in values])),
            _entry("image/object/class/text", bytes_feature([v[1].encode() for v in values])),
            _entry("image/object/difficult", int64_feature([int(v[2]) for v in values])),
            _entry("image/object/truncated", int64_feature([int(v[3]) for v in values])),
            _entry("image/object/view", bytes_feature([v[4].encode() for v in values]))]))
    return found


def _int(key: str, value: int) -> bytes:
    found = _CACHE.get(("int", key, value))
    if found is None:
        found = _cached(("int", key, value), lambda: _entry(key, int64_feature([value])))
    return found


def detection_chunks(*, encoded: bytes, image_format: str, width: int, height: int,
                     filename: str, source_id: str, sha256: str, boxes: Sequence[Box],
                     label_ids: dict[str, int]) -> list[bytes]:
    """The Example the OD API's TfExampleDecoder reads: image, size, ids, normalised boxes.
    Keys in sorted order, as `encode_chunks` writes them (the same bytes: tested)."""
    small = b"".join([
        _one_bytes("image/filename", filename.encode()),
        _one_bytes("image/format", image_format.encode()),
        _int("image/height", height),
        _one_bytes("image/key/sha256", sha256.encode()),
        _floats("image/object/bbox/xmax", [b.xmax / width for b in boxes]),
        _floats("image/object/bbox/xmin", [b.xmin / width for b in boxes]),
        _floats("image/object/bbox/ymax", [b.ymax / height for b in boxes]),
        _floats("image/object/bbox/ymin", [b.ymin / height for b in boxes]),
        _classes(boxes, label_ids),
        _one_bytes("image/source_id", source_id.encode()),
        _int("image/width", width),
    ])
    return _framed(small, "image/encoded", encoded)


def detection_features(*, width: int, height: int, image_format: str, filename: str,
                       source_id: str, sha256: str, boxes: Sequence[Box],
                       label_ids: dict[str, int]) -> dict[str, bytes]:
    """The same Example's features (but the image) for `encode_chunks`: the plain,
    uncached form, kept as the reference `detection_chunks` is tested against."""
    return {
        "image/filename": bytes_feature([filename.encode()]),
        "image/format": bytes_feature([image_format.encode()]),
        "image/height": int64_feature([height]),
        "image/key/sha256": bytes_feature([sha256.encode()]),
        "image/object/bbox/xmax": float_feature([b.xmax / width for b in boxes]),
        "image/object/bbox/xmin": float_feature([b.xmin / width for b in boxes]),
        "image/object/bbox/ymax": float_feature([b.ymax / height for b in boxes]),
        "image/object/bbox/ymin": float_feature([b.ymin / height for b in boxes]),
        "image/object/class/label": int64_feature([label_ids[b.name] for b in boxes]),
        "image/object/class/text": bytes_feature([b.name.encode() for b in boxes]),
        "image/object/difficult": int64_feature([int(b.difficult) for b in boxes]),
        "image/object/truncated": int64_feature([int(b.truncated) for b in boxes]),
        "image/object/view": bytes_feature([b.pose.encode() for b in boxes]),
        "image/source_id": bytes_feature([source_id.encode()]),
        "image/width": int64_feature([width]),
    }


def detection_example(**kwargs) -> bytes:
    """detection_chunks() joined into one serialized Example."""
    return b"".join(detection_chunks(**kwargs))
