"""Read a JPEG's size, components and EXIF orientation from its markers (no PIL).

Far cheaper than `PIL.Image.open` for the common case; anything unusual
(no SOF before SOS, 12-bit, DNL height, odd EXIF) returns None and the caller
falls back to PIL.
"""
from __future__ import annotations

# Start-of-frame markers (baseline, extended, progressive, lossless...), not DHT/JPG/DAC.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_MODES = {1: "L", 3: "RGB", 4: "CMYK"}


def _exif_orientation(tiff: bytes) -> int:
    """Orientation (tag 0x0112) from IFD0 of an EXIF TIFF block; 1 if absent or odd."""
    if tiff[:4] == b"II*\x00":
        order = "little"
    elif tiff[:4] == b"MM\x00*":
        order = "big"
    else:
        return 1
    offset = int.from_bytes(tiff[4:8], order)
    if offset + 2 > len(tiff):
        return 1
    entries = int.from_bytes(tiff[offset:offset + 2], order)
    for number in range(entries):
        start = offset + 2 + 12 * number
        entry = tiff[start:start + 12]
        if len(entry) < 12:
            return 1
        if int.from_bytes(entry[:2], order) == 0x0112:
            value = int.from_bytes(entry[8:10], order)
            return value if 1 <= value <= 8 else 1
    return 1


def header(data: bytes) -> tuple[int, int, str, int] | None:
    """(width, height, PIL-style mode, EXIF orientation), or None to ask PIL."""
    if data[:2] != b"\xff\xd8":
        return None
    position, size, orientation = 2, len(data), 1
    while position + 4 <= size:
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            position += 2
            continue
        length = int.from_bytes(data[position + 2:position + 4], "big")
        if length < 2:
            return None
        body = data[position + 4:position + 2 + length]
        if marker == 0xE1 and body[:6] == b"Exif\x00\x00":
            orientation = _exif_orientation(body[6:])
        elif marker in _SOF:
            if len(body) < 6 or body[0] != 8:
                return None
            height = int.from_bytes(body[1:3], "big")
            width = int.from_bytes(body[3:5], "big")
            mode = _MODES.get(body[5])
            if not width or not height or mode is None:
                return None
            return width, height, mode, orientation
        elif marker == 0xDA:  # scan data before any frame header
            return None
        position += 2 + length
    return None
