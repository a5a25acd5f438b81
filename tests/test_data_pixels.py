"""Pixel-level honesty: --verify-pixels catches corrupt JPEG data that PIL decodes
silently; pictures over --max-pixels are refused at tfrecord and skipped by predict."""
from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from data_support import options
from odhelper.data.annotation import Annotation, Box, write_xml
from odhelper.data.build import build_dataset


def _jpeg(seed: int = 0, size: tuple[int, int] = (128, 96)) -> bytes:
    """Seeded noise (Image.effect_noise is not seeded: whether flipped bytes then make
    libjpeg warn changed from run to run)."""
    import numpy as np

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), np.uint8)
    image = Image.fromarray(pixels)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _flipped(data: bytes) -> bytes:
    """Bytes flipped in the middle of the entropy-coded data (after the SOS marker)."""
    middle = (data.index(b"\xff\xda") + len(data)) // 2
    corrupt = bytearray(data)
    for position in range(middle, middle + 4):
        corrupt[position] ^= 0x55
    return bytes(corrupt)


def _annotated(folder: Path, stem: str, data: bytes, size: tuple[int, int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.jpg").write_bytes(data) if data[:2] == b"\xff\xd8" else \
        (folder / f"{stem}.png").write_bytes(data)
    name = f"{stem}.jpg" if data[:2] == b"\xff\xd8" else f"{stem}.png"
    write_xml(Annotation(name, *size, boxes=[Box("cat", 2, 2, 40, 30)]), folder / f"{stem}.xml")


def _reasons(content: dict) -> dict[str, tuple[str, str]]:
    return {p["file"]: (p["reason"], p["detail"]) for p in content["problems"]
            if p["severity"] == "error"}


def _huge_png() -> bytes:
    """A real 10000x6000 PNG (60 megapixels), small on disk."""
    out = io.BytesIO()
    Image.new("1", (10000, 6000)).save(out, "PNG")
    return out.getvalue()


def test_verify_pixels_catches_corrupt_jpeg_data(tmp_path):
    corrupt = _flipped(_jpeg())
    Image.open(io.BytesIO(corrupt)).load()  # PIL decodes it without a word
    root = tmp_path / "in"
    _annotated(root, "bad", corrupt, (128, 96))
    _annotated(root, "good", _jpeg(1), (128, 96))
    _annotated(root, "good2", _jpeg(2), (128, 96))
    content = build_dataset(options(root, tmp_path / "out", verify_pixels=True, workers=1))
    errors = _reasons(content)
    assert set(errors) == {"bad.xml"}
    assert errors["bad.xml"][0] == "corrupt_image"
    assert "Corrupt JPEG data" in errors["bad.xml"][1]
    assert content["splits"]["train"]["images"] + content["splits"]["validate"]["images"] == 2


def test_max_pixels_refused_at_tfrecord_with_a_reason(tmp_path):
    root = tmp_path / "in"
    _annotated(root, "huge", _huge_png(), (10000, 6000))  # over the default limit
    _annotated(root, "small", _jpeg(1, (64, 48)), (64, 48))
    _annotated(root, "medium", _jpeg(2), (128, 96))
    content = build_dataset(options(root, tmp_path / "out", workers=1))
    errors = _reasons(content)
    assert set(errors) == {"huge.xml"}
    assert errors["huge.xml"][0] == "too_many_pixels"
    assert "10000x6000" in errors["huge.xml"][1] and "--max-pixels" in errors["huge.xml"][1]
    limited = build_dataset(options(root, tmp_path / "out2", workers=1, max_pixels=64 * 48))
    assert set(_reasons(limited)) == {"huge.xml", "medium.xml"}


def test_predict_precheck_skips_a_picture_over_the_limit(tmp_path):
    from odhelper.engine.predictor import checked_bytes

    path = tmp_path / "huge.png"
    path.write_bytes(_huge_png())
    data, found = checked_bytes(path, "huge.png")
    assert data is None and found.reason == "too_many_pixels"
    assert found.action == "picture skipped"
