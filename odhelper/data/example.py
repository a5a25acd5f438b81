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

_LEN = 2  # wire type of length-delimited fields
_SMALL = [bytes([n]) if n < 0x80 else bytes([(n & 0x7F) | 0x80, n >> 7]) for n in range(1 << 14)]


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


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return _varint(number << 3 | _LEN) + _varint(len(payload)) + payload


def _head(number: int, length: int) -> bytes:
    return _varint(number << 3 | _LEN) + _varint(length)


def bytes_feature(values: Sequence[bytes]) -> bytes:
    return _field(1, b"".join([_field(1, v) for v in values]))


def float_feature(values: Sequence[float]) -> bytes:
    packed = struct.pack(f"<{len(values)}f", *values)
    return _field(2, _field(1, packed) if values else b"")


def int64_feature(values: Sequence[int]) -> bytes:
    packed = b"".join([_varint(int(v)) for v in values])
    return _field(3, _field(1, packed) if values else b"")


def _entry(key: str, value: bytes) -> bytes:
    return _field(1, _key(key) + _field(2, value))


_KEYS: dict[str, bytes] = {}


def _key(key: str) -> bytes:
    encoded = _KEYS.get(key)
    if encoded is None:
        encoded = _KEYS[key] = _field(1, key.encode())
    return encoded


def encode_chunks(features: dict[str, bytes], large_key: str | None = None,
                  large: bytes = b"") -> list[bytes]:
    """Serialized Example as a list of byte chunks whose concatenation is the message.

    `features` maps keys to encoded Features; `large` (the image bytes) becomes a
    one-value BytesList under `large_key`, framed without copying it.
    """
    small = b"".join([_entry(k, v) for k, v in sorted(features.items())])
    chunks = [small]
    if large_key is not None:
        bytes_list = len(_head(1, len(large))) + len(large)
        feature = len(_head(1, bytes_list)) + bytes_list
        entry = len(_key(large_key)) + len(_head(2, feature)) + feature
        chunks += [_head(1, entry) + _key(large_key) + _head(2, feature) + _head(1, bytes_list)
                   + _head(1, len(large)), large]
    total = sum(len(c) for c in chunks)
    return [_head(1, total)] + chunks


def encode(features: dict[str, bytes]) -> bytes:
    """Serialized Example from {key: encoded Feature}, keys in sorted order."""
    return b"".join(encode_chunks(features))


def detection_chunks(*, encoded: bytes, image_format: str, width: int, height: int,
                     filename: str, source_id: str, sha256: str, boxes: Sequence[Box],
                     label_ids: dict[str, int]) -> list[bytes]:
    """The Example the OD API's TfExampleDecoder reads: image, size, ids, normalised boxes."""
    text = [b.name.encode() for b in boxes]
    return encode_chunks({
        "image/format": bytes_feature([image_format.encode()]),
        "image/height": int64_feature([height]),
        "image/width": int64_feature([width]),
        "image/filename": bytes_feature([filename.encode()]),
        "image/source_id": bytes_feature([source_id.encode()]),
        "image/key/sha256": bytes_feature([sha256.encode()]),
        "image/object/bbox/xmin": float_feature([b.xmin / width for b in boxes]),
        "image/object/bbox/xmax": float_feature([b.xmax / width for b in boxes]),
        "image/object/bbox/ymin": float_feature([b.ymin / height for b in boxes]),
        "image/object/bbox/ymax": float_feature([b.ymax / height for b in boxes]),
        "image/object/class/text": bytes_feature(text),
        "image/object/class/label": int64_feature([label_ids[b.name] for b in boxes]),
        "image/object/difficult": int64_feature([int(b.difficult) for b in boxes]),
        "image/object/truncated": int64_feature([int(b.truncated) for b in boxes]),
        "image/object/view": bytes_feature([b.pose.encode() for b in boxes]),
    }, "image/encoded", encoded)


def detection_example(**kwargs) -> bytes:
    """detection_chunks() joined into one serialized Example."""
    return b"".join(detection_chunks(**kwargs))
