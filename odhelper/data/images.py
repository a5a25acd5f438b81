"""Probe images cheaply, decide orientation and encoding, re-encode when needed.

What needs a full decode (the rest reads only headers, PIL's `open` is lazy):
- a JPEG that does not end with its EOI marker, or a PNG without its IEND chunk
  (decoding tells a truncated file from one with trailing bytes);
- every image that must be re-encoded (non-RGB modes, BMP/GIF/TIFF/WebP, EXIF
  rotation applied), since its pixels are needed anyway;
- every image with `--verify-pixels` (finds corrupt entropy data in the middle;
  a JPEG through libjpeg-turbo with its warnings as errors, as PIL ignores them).
A decode only to check a JPEG is done DCT-scaled (1/8 size: the same entropy
data is read, a fraction of the memory). Pictures over `max_pixels` are refused
before any decode.
Kept as they are: JPEG and PNG in RGB or 8-bit grayscale (the OD API's decoder,
`decode_jpeg`/`decode_image` with channels=3, expands grayscale to RGB).
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from odhelper.constants import MAX_PIXELS
from odhelper.data import jpeg

Image.MAX_IMAGE_PIXELS = None  # large photos are fine; we never display them
KEEP_MODES = {"JPEG": ("RGB", "L"), "PNG": ("RGB", "L")}
SWAPPING_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that exchange width and height
JPEG_QUALITY = 95


class ImageProblem(Exception):
    """`reason` is a problems.REASONS name, the message its detail."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


@dataclass
class Probe:
    format: str  # PIL format name: JPEG, PNG, BMP, GIF, ...
    mode: str
    raw_width: int
    raw_height: int
    orientation: int
    sha256: str
    nbytes: int
    decoded: bool = False  # all pixels decoded once already (corrupt data would have shown)


def _complete(data: bytes, fmt: str) -> bool:
    """Whether the file ends the way a complete JPEG / PNG does (cheap, no decode)."""
    if fmt == "JPEG":
        return data.rstrip(b"\x00\r\n\t ").endswith(b"\xff\xd9")
    if fmt == "PNG":
        return data[-12:-4] == b"\x00\x00\x00\x00IEND"
    return False


def _decode(image: Image.Image) -> None:
    """Decode every pixel to check them (a JPEG at 1/8 scale: all its data is read)."""
    try:
        if image.format == "JPEG":
            image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()
    except OSError as exc:
        reason = "truncated_image" if "truncated" in str(exc).lower() else "corrupt_image"
        raise ImageProblem(reason, f"{image.format} decode failed: {exc}") from None
    except (ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageProblem("corrupt_image", f"{image.format} decode failed: {exc}") from None


def open_image(data: bytes) -> Image.Image:
    if not data:
        raise ImageProblem("unreadable_image", "empty file")
    try:
        return Image.open(io.BytesIO(data))
    except (OSError, SyntaxError, ValueError) as exc:
        detail = "unknown image format" if isinstance(exc, Image.UnidentifiedImageError) \
            else str(exc)
        raise ImageProblem("unreadable_image", f"not an image PIL can read: {detail}") from None


def _orientation(image: Image.Image) -> int:
    if image.format not in ("JPEG", "PNG", "TIFF", "WEBP"):
        return 1
    if image.format == "PNG" and "exif" not in image.info:
        return 1  # PIL's PNG getexif() would decode the whole image to look further
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block only loses the orientation
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _check_size(fmt: str, width: int, height: int, max_pixels: int) -> None:
    if max_pixels and width * height > max_pixels:
        raise ImageProblem("too_many_pixels", f"{fmt} {width}x{height} is "
                           f"{width * height / 1e6:.1f} megapixels, over the limit of "
                           f"{max_pixels / 1e6:g} (--max-pixels)")


def verify_jpeg(data: bytes, mode: str) -> None:
    """Decode a JPEG with libjpeg's warnings ("Corrupt JPEG data: ...") as errors."""
    import simplejpeg

    try:
        simplejpeg.decode_jpeg(data, colorspace="gray" if mode == "L" else "rgb",
                               min_height=1, min_width=1, strict=True)
    except ValueError as exc:
        reason = "truncated_image" if "premature end of jpeg file" in str(exc).lower() \
            else "corrupt_image"
        raise ImageProblem(reason, f"JPEG data corrupt: {exc}") from None


def probe(data: bytes, verify_pixels: bool = False, max_pixels: int = MAX_PIXELS) -> Probe:
    """Format, mode, raw size, EXIF orientation and hash; decodes only when needed.
    Pictures over `max_pixels` (0: no limit) are refused before any decode."""
    quick = None if verify_pixels else jpeg.header(data)
    if quick is not None and _complete(data, "JPEG") and quick[2] in KEEP_MODES["JPEG"]:
        width, height, mode, orientation = quick
        _check_size("JPEG", width, height, max_pixels)
        return Probe("JPEG", mode, width, height, orientation,
                     hashlib.sha256(data).hexdigest(), len(data))
    image = open_image(data)
    fmt, mode = image.format or "UNKNOWN", image.mode
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageProblem("corrupt_image", f"{fmt} header says {width}x{height}")
    _check_size(fmt, width, height, max_pixels)
    orientation = _orientation(image)
    decoded = verify_pixels or not _complete(data, fmt) or needs_reencode(fmt, mode, False)
    if verify_pixels and fmt == "JPEG" and mode in KEEP_MODES["JPEG"]:
        verify_jpeg(data, mode)
    elif decoded:
        _decode(image)
    return Probe(fmt, mode, width, height, orientation, hashlib.sha256(data).hexdigest(),
                 len(data), decoded)


def check_decodes(data: bytes) -> None:
    """Decode every pixel; raise ImageProblem when that fails."""
    _decode(open_image(data))


def needs_reencode(fmt: str, mode: str, rotate: bool) -> bool:
    return rotate or mode not in KEEP_MODES.get(fmt, ())


def oriented_size(p: Probe) -> tuple[int, int]:
    if p.orientation in SWAPPING_ORIENTATIONS:
        return p.raw_height, p.raw_width
    return p.raw_width, p.raw_height


def decide_rotation(p: Probe, xml_size: tuple[int, int] | None) -> tuple[bool, str | None]:
    """(apply the EXIF orientation?, note for the report or None).

    Boxes must match the stored pixels, and TensorFlow's decoders ignore EXIF.
    Older LabelImg drew on the raw pixels, newer versions (and most viewers) on
    the rotated picture; the XML `<size>` tells which when width and height
    swap. When it cannot tell (flips, 180 degrees, square, no size), the
    rotated picture is assumed, as any viewer shows it.
    """
    if p.orientation == 1:
        return False, None
    raw, rotated = (p.raw_width, p.raw_height), oriented_size(p)
    if xml_size is not None and raw != rotated:
        if xml_size == raw:
            return False, (f"EXIF orientation {p.orientation}; <size> {xml_size[0]}x"
                           f"{xml_size[1]} matches the raw pixels: stored unrotated")
        if xml_size == rotated:
            return True, (f"EXIF orientation {p.orientation}; <size> matches the rotated "
                          "picture: pixels rotated to match the boxes")
    return True, (f"EXIF orientation {p.orientation}; <size> cannot tell which way the boxes "
                  "were drawn: assumed on the rotated picture (as viewers show it)")


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        import numpy as np

        array = np.asarray(image, dtype=np.float64)
        top = array.max() if array.size else 0
        scale = 255.0 / (65535.0 if top > 255 else 255.0)
        image = Image.fromarray(np.clip(array * scale, 0, 255).astype("uint8"), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def stored_bytes(data: bytes, fmt: str, mode: str, rotate: bool) -> tuple[bytes, str]:
    """(encoded bytes that decode to 3-channel RGB matching the boxes, 'jpeg' | 'png')."""
    if not needs_reencode(fmt, mode, rotate):
        return data, "jpeg" if fmt == "JPEG" else "png"
    image = Image.open(io.BytesIO(data))
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # animated GIF / multi-page TIFF: the first frame
    image.load()
    if rotate:
        image = ImageOps.exif_transpose(image)
    image = _to_rgb(image)
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=JPEG_QUALITY)
        return out.getvalue(), "jpeg"
    image.save(out, "PNG", compress_level=1)
    return out.getvalue(), "png"


def describe_conversion(fmt: str, mode: str, rotate: bool) -> str:
    target = "JPEG" if fmt == "JPEG" else "PNG"
    what = f"{fmt} {mode}" + (" rotated" if rotate else "")
    return f"{what} -> {target} RGB"
