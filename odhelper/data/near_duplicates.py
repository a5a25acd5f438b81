"""Near-duplicate pictures: a resized, re-encoded, slightly cropped or brightened copy
of a picture under another name. Found before the split and kept on one side of it
with the picture it copies, like byte-identical twins.

Each picture gets two perceptual hashes (pHash: the signs of the lowest frequencies
of its luma's DCT against their median) from one reduced-size decode: a short one
finds candidates, a long one confirms them (the short one alone links different
playing cards lying on the same carpet). Both come from one DCT computed with numpy
(imagehash.phash would import scipy.fftpack, which costs more than hashing a small
set). Candidates are found by bands: the short hash cut into QUICK_DISTANCE + 1
bands, two hashes that differ in at most QUICK_DISTANCE bits share a band exactly.

Links chain (single linkage): a group whose pictures are not all close to its first
one is cut into pieces around anchors, so a homogeneous set does not become one group.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field

from odhelper import log

HASH_NAME = "pHash: 64-bit to find, 256-bit to confirm"
QUICK_DISTANCE = 10  # Hamming distance of the 64-bit pHashes, at most
DETAIL_DISTANCE = 44  # Hamming distance of the 256-bit pHashes, at most
CHAIN_FACTOR = 2  # a group's pictures lie within this many times the distances of its anchor
DECODE_SIDE = 32  # pictures are decoded at the smallest scale that keeps this many pixels
QUICK_BITS = 64


def picture_hashes(data: bytes, max_pixels: int = 0) -> tuple[int, int] | None:
    """(short, long) pHash of an encoded picture; None if it does not decode
    (pass 2 reports why) or has more than `max_pixels` pixels."""
    try:
        small = _small_gray(data, max_pixels)
    except Exception:  # noqa: BLE001 - any bad picture: pass 2 says what is wrong
        return None
    if small is None:
        return None
    return _phashes(small)


def _phashes(gray) -> tuple[int, int]:
    """The picture shrunk to a small square; of its DCT, the lowest frequencies, each
    above or not above their median, row by row, first bit high: a block for the long
    hash and its top-left quarter for the short one."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(gray.resize((64, 64), Image.Resampling.LANCZOS), dtype=np.float32)
    basis = _cosines(64)[:16]
    low = basis @ pixels @ basis.T
    lowest = low[:8, :8]
    return _bits(lowest > np.median(lowest)), _bits(low > np.median(low))


def _bits(flags) -> int:
    import numpy as np

    return int.from_bytes(np.packbits(flags.reshape(-1)).tobytes(), "big")


_COSINES: dict[int, object] = {}


def _cosines(size: int):
    """The DCT-II basis, one frequency a row (its scale does not change the bits)."""
    if size not in _COSINES:
        import numpy as np

        k, n = np.arange(size)[:, None], np.arange(size)[None, :]
        _COSINES[size] = np.cos(np.pi * k * (2 * n + 1) / (2 * size)).astype(np.float32)
    return _COSINES[size]


def _small_gray(data: bytes, max_pixels: int):
    """The picture's luma at a reduced size (JPEG: decoded scaled down, not full size)."""
    from PIL import Image

    if data[:2] == b"\xff\xd8":
        import simplejpeg

        try:
            height, width, _, _ = simplejpeg.decode_jpeg_header(data)
            if max_pixels and width * height > max_pixels:
                return None
            pixels = simplejpeg.decode_jpeg(data, colorspace="GRAY", fastdct=True,
                                            min_width=DECODE_SIDE, min_height=DECODE_SIDE)
            return Image.fromarray(pixels[:, :, 0])
        except ValueError:  # e.g. CMYK or arithmetic coding: Pillow below
            pass
    image = Image.open(io.BytesIO(data))
    if max_pixels and image.width * image.height > max_pixels:
        return None
    image.draft("L", (DECODE_SIDE, DECODE_SIDE))
    return image.convert("L")


def hash_same_size_groups(groups: list[list[str]], max_pixels: int) -> list[list]:
    """For each group of same-size files, each file's hashes; byte-identical files
    (same CRC32C) are decoded once. A file that cannot be read gets None."""
    import google_crc32c

    results = []
    for paths in groups:
        seen: dict[int, tuple | None] = {}
        hashes = []
        for path in paths:
            try:
                with open(path, "rb") as stream:
                    data = stream.read()
            except OSError:
                hashes.append(None)
                continue
            crc = google_crc32c.value(data) if len(paths) > 1 else 0
            if crc not in seen:
                seen[crc] = picture_hashes(data, max_pixels)
            hashes.append(seen[crc])
        results.append(hashes)
    return results


def hash_items(items: list, options, context) -> None:
    """Set `picture_hash` on every usable item with a picture, in the worker pool."""
    from odhelper.data import pools

    by_size: dict[int, list] = {}
    for item in items:
        if item.usable and item.image_path:
            by_size.setdefault(item.nbytes, []).append(item)
    groups = [by_size[size] for size in sorted(by_size)]
    if not groups:
        return
    clock = time.perf_counter()
    size = max(1, min(64, len(groups) // 32))
    chunks = [groups[i:i + size] for i in range(0, len(groups), size)]
    paths = [[[item.image_path for item in group] for group in chunk] for chunk in chunks]
    count = sum(len(group) for group in groups)
    with pools.running(options, context, count) as pool:
        results = pools.run(pool, hash_same_size_groups, paths, [options.max_pixels] * len(paths))
        for chunk, hashed in zip(chunks, results):
            for group, hashes in zip(chunk, hashed):
                for item, value in zip(group, hashes):
                    item.picture_hash = value
    log.info("Hashed %d pictures (perceptual, for near-duplicates) in %.2f s", count,
             time.perf_counter() - clock)


class HashIndex:
    """Pictures' hashes, searchable for those within the distances of a given one."""

    def __init__(self, hashes: list[tuple[int, int]]):
        import numpy as np

        self.quick = np.array([q for q, _ in hashes], dtype=np.uint64)
        self.detail = np.array([_words(d) for _, d in hashes], dtype=np.uint64).reshape(-1, 4)
        self.buckets = [self._bucket(shift, mask) for shift, mask in BANDS]

    def _bucket(self, shift: int, mask: int) -> dict:
        """Band value -> indices of the hashes having it."""
        import numpy as np

        values = (self.quick >> np.uint64(shift)) & np.uint64(mask)
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        ends = np.r_[starts[1:], len(order)]
        return {int(ordered[s]): order[s:e] for s, e in zip(starts, ends)}

    def near(self, value: tuple[int, int], factor: int = 1):
        """Indices of the hashes within the distances (times `factor`: no band lookup)
        of `value`."""
        import numpy as np

        if factor == 1:
            found = [bucket[key] for bucket, (shift, mask) in zip(self.buckets, BANDS)
                     if (key := (value[0] >> shift) & mask) in bucket]
            candidates = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
        else:
            candidates = np.arange(len(self.quick))
        quick = np.bitwise_count(self.quick[candidates] ^ np.uint64(value[0]))
        detail = np.bitwise_count(self.detail[candidates] ^ np.array(
            _words(value[1]), dtype=np.uint64)).sum(axis=1)
        close = (quick <= QUICK_DISTANCE * factor) & (detail <= DETAIL_DISTANCE * factor)
        return candidates[close]

    def pairs(self):
        """Every pair (i < j) of hashes within the distances, as rows of an array."""
        import numpy as np

        count = len(self.quick)
        found = [np.zeros(0, dtype=np.int64)]  # pair i, j as i * count + j
        for bucket in self.buckets:
            for members in bucket.values():
                for start in range(0, len(members) - 1, PAIR_ROWS):
                    rows = members[start:start + PAIR_ROWS]
                    close = np.bitwise_count(self.quick[rows][:, None]
                                             ^ self.quick[members][None, :]) <= QUICK_DISTANCE
                    row, column = np.nonzero(close)
                    first, second = rows[row], members[column]
                    first, second = first[first < second], second[first < second]
                    confirmed = np.bitwise_count(self.detail[first] ^ self.detail[second]
                                                 ).sum(axis=1) <= DETAIL_DISTANCE
                    found.append(first[confirmed] * count + second[confirmed])
        pairs = np.unique(np.concatenate(found))
        return np.stack([pairs // count, pairs % count], axis=1)


def _components(count: int, pairs):
    """Per hash, the smallest index of the hashes linked to it through `pairs`."""
    import numpy as np

    labels = np.arange(count)
    first, second = pairs[:, 0], pairs[:, 1]
    while True:
        lowest = np.minimum(labels[first], labels[second])
        spread = labels.copy()
        np.minimum.at(spread, first, lowest)
        np.minimum.at(spread, second, lowest)
        spread = spread[spread]
        if np.array_equal(spread, labels):
            return labels
        labels = spread


def _band_edges() -> list[tuple[int, int]]:
    """(shift, mask) of each of the QUICK_DISTANCE + 1 bands of the short hash."""
    count = QUICK_DISTANCE + 1
    edges = [round(QUICK_BITS * n / count) for n in range(count + 1)]
    return [(low, (1 << (high - low)) - 1) for low, high in zip(edges, edges[1:])]


BANDS = _band_edges()
PAIR_ROWS = 256  # rows compared at once within a band's bucket (bounds the memory)


def _words(value: int) -> list[int]:
    return [(value >> shift) & 0xFFFFFFFFFFFFFFFF for shift in (192, 128, 64, 0)]


@dataclass
class NearDuplicates:
    """The groups found (picture names) and the chains that were cut."""
    groups: list[list[str]] = field(default_factory=list)
    chains_cut: list[tuple[int, int]] = field(default_factory=list)  # (pictures, pieces)

    def to_dict(self) -> dict:
        return {"hash": HASH_NAME, "max_distance": QUICK_DISTANCE,
                "max_detail_distance": DETAIL_DISTANCE, "groups": self.groups}

    def log(self, together: bool = True) -> None:
        """One warning per group (`together`: they were kept on one side of the split;
        else split lists put them where they said)."""
        for pictures, pieces in self.chains_cut:
            log.warning("Near-duplicates: a chain of %d similar pictures was cut into %d "
                        "groups (not all within %dx the distance of its first picture)",
                        pictures, pieces, CHAIN_FACTOR)
        where = "kept on one side of the split" if together else "sides as the split lists say"
        for names in self.groups:
            log.warning("Near-duplicate pictures, %s: %s", where, ", ".join(names))


def merge(groups: dict[str, list]) -> tuple[dict[str, list], NearDuplicates]:
    """Units (twin key -> items) joined where their pictures are near-duplicates."""
    keys = sorted(groups, key=lambda key: min(item.image_name for item in groups[key]))
    owners: dict[tuple[int, int], list[int]] = {}  # distinct hashes -> units having them
    for number, key in enumerate(keys):
        for item in groups[key]:
            if item.picture_hash is not None:
                owners.setdefault(item.picture_hash, []).append(number)
    if not owners:
        return groups, NearDuplicates()
    hashes = list(owners)
    labels = _components(len(hashes), HashIndex(hashes).pairs())
    parent = list(range(len(keys)))

    def root(number: int) -> int:
        while parent[number] != number:
            parent[number] = parent[parent[number]]
            number = parent[number]
        return number

    def join(a: int, b: int) -> None:
        a, b = root(a), root(b)
        if a != b:
            parent[max(a, b)] = min(a, b)

    first_unit: dict[int, int] = {}  # component of hashes -> a unit having one of them
    for number, value in enumerate(hashes):
        for unit in owners[value]:
            join(first_unit.setdefault(int(labels[number]), unit), unit)
    components: dict[int, list[int]] = {}
    for number in range(len(keys)):
        components.setdefault(root(number), []).append(number)
    found = NearDuplicates()
    merged: dict[str, list] = {}
    for members in components.values():
        pieces = _cut_chain(members, keys, groups) if len(members) > 1 else [members]
        if len(pieces) > 1:
            found.chains_cut.append((len(members), len(pieces)))
        for piece in pieces:
            items = [item for number in piece for item in groups[keys[number]]]
            merged[keys[piece[0]]] = items
            if len(piece) > 1:
                found.groups.append(sorted(item.image_name for item in items))
    found.groups.sort()
    return merged, found


def _cut_chain(members: list[int], keys: list[str], groups: dict[str, list]) -> list[list[int]]:
    """Pieces of a group, each within CHAIN_FACTOR times the distances of its first
    unit (in name order); one piece when the whole group is."""
    def hash_of(number: int):
        return next((i.picture_hash for i in groups[keys[number]] if i.picture_hash), None)

    pieces, left = [], sorted(members)
    while left:
        anchor = hash_of(left[0])
        piece = [number for number in left if number == left[0] or (
            anchor is not None and _within(anchor, hash_of(number), CHAIN_FACTOR))]
        pieces.append(piece)
        taken = set(piece)
        left = [number for number in left if number not in taken]
    return pieces


def _within(one: tuple[int, int], other: tuple[int, int] | None, factor: int = 1) -> bool:
    return other is not None and (one[0] ^ other[0]).bit_count() <= QUICK_DISTANCE * factor \
        and (one[1] ^ other[1]).bit_count() <= DETAIL_DISTANCE * factor
