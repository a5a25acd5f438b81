"""A generated corpus of bad and unusual inputs: each gives its own named reason, and
every usable file still converts to records the OD API decodes as 3-channel RGB."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data_support import decode_records, options, shard_paths
from odhelper.data.annotation import Annotation, Box, write_xml
from odhelper.data.build import build_dataset
from odhelper.data.labelmap import write as write_label_map

W, H = 96, 64


def _noise(mode: str = "RGB", size=(W, H), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB").convert(mode) if mode != "RGB" else \
        Image.fromarray(pixels, "RGB")


def _save(image: Image.Image, path: Path, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _xml(folder: Path, stem: str, filename: str, boxes, size=(W, H)) -> None:
    annotation = Annotation(filename, size[0], size[1], boxes=list(boxes))
    write_xml(annotation, folder / f"{stem}.xml")


def _box(name="cat", x0=10, y0=10, x1=50, y1=40, **kwargs) -> Box:
    return Box(name, x0, y0, x1, y1, **kwargs)


def _make_corpus(root: Path) -> dict[str, tuple[str, bool]]:
    """{xml stem: (expected reason, converted?)} with the files written under root."""
    sub = root / "nested" / "deeper"
    sub.mkdir(parents=True)
    expected = {}

    def jpeg(stem, folder=root, seed=0, **kwargs):
        return _save(_noise(seed=seed), folder / f"{stem}.jpg", "JPEG", **kwargs)

    for number in range(3):  # good files, one nested with an upper-case extension
        jpeg(f"good{number}", seed=number)
        _xml(root, f"good{number}", f"good{number}.jpg", [_box("dog" if number else "cat")])
    _save(_noise(seed=9), sub / "good_nested.JPG", "JPEG")
    _xml(sub, "good_nested", "good_nested.jpg", [_box("dog")])
    (root / "broken.xml").write_text("<annotation><filename>x.jpg</filename>")
    expected["broken"] = ("malformed_xml", False)
    (root / "other.xml").write_text("<catalog><item/></catalog>")
    expected["other"] = ("not_an_annotation", False)
    _xml(root, "escape", "../../etc/passwd.jpg", [_box()])
    expected["escape"] = ("unsafe_filename", False)
    _xml(root, "absolute", "C:\\Users\\me\\absolute.jpg", [_box()])
    expected["absolute"] = ("unsafe_filename", False)
    _xml(root, "nophoto", "nophoto.jpg", [_box()])
    expected["nophoto"] = ("missing_image", False)
    (root / "text.jpg").write_text("this is not a picture")
    _xml(root, "text", "text.jpg", [_box()])
    expected["text"] = ("unreadable_image", False)
    whole = _save(_noise(seed=3), root / "cut.jpg", "JPEG")
    (root / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    _xml(root, "cut", "cut.jpg", [_box()])
    expected["cut"] = ("truncated_image", False)
    palette = _noise(seed=4).convert("P")
    data = bytearray(_save(palette, root / "garbled.png", "PNG"))
    start = data.index(b"IDAT") + 20
    data[start:start + 40] = bytes(b ^ 0x55 for b in data[start:start + 40])
    (root / "garbled.png").write_bytes(bytes(data))
    _xml(root, "garbled", "garbled.png", [_box()])
    expected["garbled"] = ("corrupt_image", False)
    jpeg("wrongsize", seed=5)
    _xml(root, "wrongsize", "wrongsize.jpg", [_box()], size=(W * 2, H * 2))
    expected["wrongsize"] = ("size_mismatch", True)
    jpeg("nosize", seed=6)
    (root / "nosize.xml").write_text(
        "<annotation><filename>nosize.jpg</filename><object><name>cat</name><bndbox>"
        "<xmin>5</xmin><ymin>5</ymin><xmax>20.5</xmax><ymax>30.25</ymax></bndbox></object>"
        "</annotation>")
    expected["nosize"] = ("size_missing", True)
    cases = {
        "clipped": ("box_clipped", [_box(), _box(x0=60, x1=W + 30)]),
        "outside": ("box_outside_image", [_box(), _box(x0=W + 5, x1=W + 40)]),
        "flat": ("box_degenerate", [_box(), _box(x0=30, x1=30)]),
        "noname": ("empty_class_name", [_box(), _box(name="")]),
        "stranger": ("unknown_class", [_box(), _box(name="zebra")]),
        "twice": ("duplicate_box", [_box(), _box(x1=50.2)]),
        "hard": ("difficult_skipped", [_box(), _box(name="dog", difficult=True)]),
    }
    for seed, (stem, (reason, boxes)) in enumerate(cases.items(), start=10):
        jpeg(stem, seed=seed)
        _xml(root, stem, f"{stem}.jpg", boxes)
        expected[stem] = (reason, True)
    jpeg("badnumber", seed=20)
    _xml(root, "badnumber", "badnumber.jpg", [_box()])
    text = (root / "badnumber.xml").read_text()
    (root / "badnumber.xml").write_text(text.replace("<object>", "<object><name>cat</name>"
                                        "<bndbox><xmin>a</xmin></bndbox></object><object>", 1))
    expected["badnumber"] = ("bad_coordinates", True)
    jpeg("empty", seed=21)
    _xml(root, "empty", "empty.jpg", [])
    expected["empty"] = ("negative_image", True)  # background: kept with zero boxes
    twin = jpeg("twin_a", seed=22)
    (root / "twin_b.jpg").write_bytes(twin)
    _xml(root, "twin_a", "twin_a.jpg", [_box()])
    _xml(root, "twin_b", "twin_b.jpg", [_box(name="dog")])
    expected["twin_a"] = expected["twin_b"] = ("identical_images", True)
    jpeg("again", seed=23)
    _xml(root, "again", "again.jpg", [_box()])
    _xml(root, "again_copy", "again.jpg", [_box()])
    expected["again_copy"] = ("image_annotated_twice", False)
    _save(_noise("L", seed=24), root / "gray.jpg", "JPEG")
    _xml(root, "gray", "gray.jpg", [_box()])
    expected["gray"] = ("grayscale_image", True)
    conversions = {"cmyk.jpg": (_noise("CMYK", seed=25), "JPEG"),
                   "alpha.png": (_noise("RGBA", seed=26), "PNG"),
                   "palette.png": (_noise("P", seed=27), "PNG"),
                   "bitmap.bmp": (_noise(seed=28), "BMP"),
                   "anim.gif": (_noise("P", seed=29), "GIF")}
    for name, (image, fmt) in conversions.items():
        _save(image, root / name, fmt)
        stem = Path(name).stem
        _xml(root, stem, name, [_box()])
        expected[stem] = ("converted_image", True)
    _save(_noise(seed=30), root / "stemonly.PNG", "PNG")  # found by the XML's stem
    _xml(root, "stemonly", "renamed_since.jpg", [_box()])
    expected["stemonly"] = ("paired_by_name", True)  # a fallback: said, not silent
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees: W x H pixels display as H x W
    for seed, stem, size in ((31, "rotated", (H, W)), (32, "unrotated", (W, H))):
        _save(_noise(seed=seed), root / f"{stem}.jpg", "JPEG", exif=exif.tobytes())
        _xml(root, stem, f"{stem}.jpg", [_box(x0=5, y0=5, x1=30, y1=50)], size=size)
        expected[stem] = ("exif_rotated", True)
    _scrambled_jpeg(root / "rotcorrupt.jpg", seed=33, exif=exif.tobytes())
    _xml(root, "rotcorrupt", "rotcorrupt.jpg", [_box(x0=5, y0=5, x1=30, y1=50)], size=(H, W))
    expected["rotcorrupt"] = ("corrupt_image", False)  # found before its pixels are rotated
    return expected


def _scrambled_jpeg(path: Path, seed: int, **kwargs) -> None:
    """A JPEG whose header and end marker are intact but whose scan data is garbage."""
    data = bytearray(_save(_noise(seed=seed), path, "JPEG", **kwargs))
    start = data.index(b"\xff\xda") + 40
    data[start:start + 160] = bytes(b ^ 0x55 for b in data[start:start + 160])
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus") / "input"
    root.mkdir()
    expected = _make_corpus(root)
    label_map = write_label_map({"cat": 1, "dog": 2}, root.parent / "labels.pbtxt")
    output = root.parent / "dataset"
    content = build_dataset(options(root, output, label_map=label_map, skip_difficult=True,
                                    split_ratio=0.5))
    return root, output, expected, content


def test_each_bad_input_gets_its_own_reason(corpus):
    _, _, expected, content = corpus
    found = {}
    for item in content["problems"]:
        found.setdefault(Path(item["file"]).stem, set()).add(item["reason"])
        assert item["detail"] and item["action"]
    for stem, (reason, _) in expected.items():
        assert reason in found.get(stem, set()), (stem, reason, found.get(stem))
    assert len({reason for reason, _ in expected.values()}) >= 15
    for stem in ("good0", "good1", "good2", "good_nested"):
        assert stem not in found


def test_good_and_fixable_files_all_convert(corpus):
    root, output, expected, content = corpus
    records = decode_records(shard_paths(output, content))
    converted = {Path(r["source_id"]).stem: r for r in records}
    should = {s for s, (_, ok) in expected.items() if ok} | {
        "good0", "good1", "good2", "good_nested", "stemonly", "again"}
    assert set(converted) == should
    for stem, record in converted.items():
        assert record["image"].ndim == 3 and record["image"].shape[2] == 3, stem
        assert record["format"] in ("jpeg", "png")
        assert (record["boxes"] >= 0).all() and (record["boxes"] <= 1).all()
    assert converted["cmyk"]["format"] == "jpeg" and converted["bitmap"]["format"] == "png"
    assert converted["rotated"]["image"].shape[:2] == (W, H)  # pixels turned like the boxes
    assert converted["unrotated"]["image"].shape[:2] == (H, W)
    assert converted["wrongsize"]["image"].shape[:2] == (H, W)
    np.testing.assert_allclose(converted["clipped"]["boxes"][1], [10 / H, 60 / W, 40 / H, 1.0],
                               atol=1e-6)
    assert len(converted["hard"]["classes"]) == 1  # the difficult box was dropped
    assert list(converted["twin_b"]["classes"]) == [2]
    validate = {Path(p).stem for p in content["splits"]["validate"]["shards"]}
    assert validate  # both sides exist


def test_twins_share_a_side(corpus):
    _, output, _, _ = corpus
    import pandas as pd

    sides = {name: side for side in ("train", "validate")
             for name in pd.read_csv(output / f"{side}.csv")["filename"]}
    assert sides["twin_a.jpg"] == sides["twin_b.jpg"]


def test_background_option_and_strict(corpus, tmp_path):
    from odhelper.data.problems import StrictModeError

    root, _, _, content = corpus
    negatives = [p for p in content["problems"] if p["reason"] == "negative_image"]
    assert [Path(p["file"]).stem for p in negatives] == ["empty"]
    assert sum(s["background"] for s in content["splits"].values()) == 1
    left_out = build_dataset(options(root, tmp_path / "plain", background=False))
    assert sum(s["background"] for s in left_out["splits"].values()) == 0
    assert "empty" in {Path(p["file"]).stem for p in left_out["problems"]
                       if p["reason"] == "no_objects"}
    with pytest.raises(StrictModeError):
        build_dataset(options(root, tmp_path / "strict", strict=True))


def test_nothing_usable_is_an_error(tmp_path):
    from odhelper.cli import main

    source = tmp_path / "bad"
    source.mkdir()
    (source / "a.xml").write_text("<annotation>")
    assert main(["tfrecord", "-i", str(source), "-o", str(tmp_path / "out"),
                 "--no-copy-label-map"]) == 1
    assert main(["tfrecord", "-i", str(source), "-o", str(tmp_path / "out"), "-sr", "12"]) == 2


def test_verify_pixels_finds_garbage_inside_a_jpeg(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for number in range(2):
        _save(_noise(seed=number), source / f"fine{number}.jpg", "JPEG")
        _xml(source, f"fine{number}", f"fine{number}.jpg", [_box()])
    _scrambled_jpeg(source / "inside.jpg", seed=5)
    _xml(source, "inside", "inside.jpg", [_box()])
    quick = build_dataset(options(source, tmp_path / "quick"))
    assert not quick["problems"]  # default: header + end marker checks only (fast)
    full = build_dataset(options(source, tmp_path / "full", verify_pixels=True))
    assert [(Path(p["file"]).stem, p["reason"]) for p in full["problems"]] == [
        ("inside", "corrupt_image")]


def test_image_gone_before_its_shard_is_written_costs_only_that_image(tmp_path, monkeypatch):
    import pandas as pd

    from odhelper.data import build

    source = tmp_path / "in"
    source.mkdir()
    for number in range(6):
        _save(_noise(seed=number), source / f"pic{number}.jpg", "JPEG")
        _xml(source, f"pic{number}", f"pic{number}.jpg", [_box()])
    real_counts = build._shard_counts

    def delete_then_count(parts, options_):  # between the annotation pass and writing
        (source / "pic3.jpg").unlink()
        return real_counts(parts, options_)

    monkeypatch.setattr(build, "_shard_counts", delete_then_count)
    output = tmp_path / "out"
    content = build_dataset(options(source, output, split_ratio=0.5))
    assert [(p["file"], p["reason"]) for p in content["problems"]] == [
        ("pic3.xml", "unreadable_image")]
    records = decode_records(shard_paths(output, content))
    assert sorted(Path(r["source_id"]).stem for r in records) == [
        "pic0", "pic1", "pic2", "pic4", "pic5"]
    listed = [name for side in ("train", "validate")
              for name in pd.read_csv(output / f"{side}.csv")["filename"]]
    assert sorted(listed) == ["pic0.jpg", "pic1.jpg", "pic2.jpg", "pic4.jpg", "pic5.jpg"]
    assert sum(s["images"] for s in content["splits"].values()) == 5
