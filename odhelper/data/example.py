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

# Varints of 0 .. 2**14 - 1 (most lengths and ids), looked up rather than computed.
_SMALL = [bytes([n]) if n < 0x80 else bytes([(n & 0x7F) | 0x80, n >> 7]) for n in range(1 << 14)]
# Tags of length-delimited fields 1, 2 and 3 (field number << 3 | wire type 2).
_T1, _T2, _T3 = b"\x0a", b"\x12", b"\x1a"


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
    packed = struct.pack(f"<{len(values)}f", *values)
    body = _T1 + _varint(len(packed)) + packed
    return _T2 + _varint(len(body)) + body


def int64_feature(values: Sequence[int]) -> bytes:
    if not values:
        return _T3 + b"\x00"
    packed = b"".join([_varint(int(v)) for v in values])
    body = _T1 + _varint(len(packed)) + packed
    return _T3 + _varint(len(body)) + body


def _key(key: str) -> bytes:
    """A map entry's key field."""
    name = key.encode()
    return _T1 + _varint(len(name)) + name


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


def detection_chunks(*, encoded: bytes, image_format: str, width: int, height: int,
                     filename: str, source_id: str, sha256: str, boxes: Sequence[Box],
                     label_ids: dict[str, int]) -> list[bytes]:
    """The Example the OD API's TfExampleDecoder reads: image, size, ids, normalised
    boxes; as chunks, the image bytes not copied."""
    features = detection_features(width=width, height=height, image_format=image_format,
                                  filename=filename, source_id=source_id, sha256=sha256,
                                  boxes=boxes, label_ids=label_ids)
    return encode_chunks(features, "image/encoded", encoded)


def detection_features(*, width: int, height: int, image_format: str, filename: str,
                       source_id: str, sha256: str, boxes: Sequence[Box],
                       label_ids: dict[str, int]) -> dict[str, bytes]:
    """The detection Example's features but the image, for `encode_chunks`."""
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
