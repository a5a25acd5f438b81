"""odhelper predict on a real exported SSD (tiny, untrained-ish): CSV, LabelImg XML
round trip through our own VOC reader, drawn pictures, bad pictures skipped by name."""
import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from eval_support import cached_tiny_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return cached_tiny_run(tmp_path_factory)


@pytest.fixture()
def pictures(tiny_run, tmp_path):
    """Four good pictures (one in a sub-folder, one PNG with alpha) and bad ones."""
    from PIL import Image

    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    source = tiny_run.parent / "pictures"
    for name in ("pic000.jpg", "pic001.jpg"):
        shutil.copy(source / name, folder / name)
    shutil.copy(source / "pic002.jpg", folder / "sub" / "pic002.JPG")
    Image.open(source / "pic003.jpg").convert("RGBA").save(folder / "alpha.png")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("not a picture")
    whole = (source / "pic004.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    return folder


def run_predict(tiny_run, pictures, out, *flags):
    from odhelper import cli

    return cli.main(["predict", "--model", str(tiny_run), "-i", str(pictures), "-o", str(out),
                     "--threshold", "0.0", *flags])


def test_predict_writes_csv_xml_and_pictures(tiny_run, pictures, tmp_path):
    from PIL import Image

    from odhelper.data import voc

    out = tmp_path / "out"
    assert run_predict(tiny_run, pictures, out, "--xml", "--csv") == 0
    with open(out / "detections.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["filename", "class", "score", "xmin", "ymin", "xmax", "ymax"]
    by_file = {}
    for row in rows:
        by_file.setdefault(row["filename"], []).append(row)
    assert set(by_file) == {"pic000.jpg", "pic001.jpg", "sub/pic002.JPG", "alpha.png"}
    for name, found in by_file.items():
        width, height = Image.open(pictures / name).size
        assert {r["class"] for r in found} <= {"circle", "square"}
        for row in found:
            assert 0 <= float(row["xmin"]) <= float(row["xmax"]) <= width + 0.05
            assert 0 <= float(row["ymin"]) <= float(row["ymax"]) <= height + 0.05
        drawn = out / Path(name).with_suffix(".png" if name.endswith(".png") else ".jpg")
        assert Image.open(drawn).size == (width, height)
        assert not (out / Path(name).with_suffix(".xml")).exists()  # not beside the drawn copy
        xml = out / "xml" / Path(name).with_suffix(".xml")
        annotation, size_ok, problems = voc.parse(xml.read_bytes(), str(xml))
        assert f"<path>{(pictures / name).resolve()}</path>" in xml.read_text()
        assert size_ok and not problems and annotation.verified is False
        assert (annotation.filename, annotation.width, annotation.height) == (
            Path(name).name, width, height)
        assert "odhelper predict" in xml.read_text()
        from_xml = sorted((b.name, b.xmin, b.ymin, b.xmax, b.ymax) for b in annotation.boxes)
        from_csv = sorted((r["class"], *(float(r[k]) for k in ("xmin", "ymin", "xmax", "ymax")))
                          for r in found)
        assert len(from_xml) == len(from_csv)
        for a in from_xml:  # XML holds whole pixels: match, don't zip (rounding reorders ties)
            same = next((b for b in from_csv
                         if a[0] == b[0] and np.allclose(a[1:], b[1:], atol=1.0)), None)
            assert same is not None, a
            from_csv.remove(same)
    log_text = (out / "odhelper.log").read_text()
    for name, reason in (("empty.jpg", "unreadable_image"), ("notes.jpg", "unreadable_image"),
                         ("cut.jpg", "truncated_image")):
        assert f"{name}: {reason}" in log_text
    assert "images/s" in log_text and "4 pictures" in log_text


def test_pipeline_matches_a_plain_call(tiny_run):
    """Pre-resizing in tf.data gives the detections of the full-size serving call."""
    import tensorflow as tf
    from PIL import Image

    from odhelper.detections import from_outputs
    from odhelper.engine import predictor

    model = predictor.load_model(tiny_run)
    assert model.input_size == (128, 128) and model.class_names == {1: "circle", 2: "square"}
    folder = tiny_run.parent / "pictures"
    paths = predictor.list_images(folder)[:4]
    problems = []
    ours = list(predictor.detect(model, paths, folder, problems, workers=2))
    assert [p.name for p in ours] == [p.name for p in paths] and not problems
    for path, mine in zip(paths, ours):
        pixels = np.array(Image.open(path).convert("RGB"))
        outputs = model.function(input_tensor=tf.constant(pixels[None]))
        plain, mine = from_outputs(outputs, *pixels.shape[:2]), mine.detections
        best, plain_best = np.argmax(mine.scores), np.argmax(plain.scores)
        assert mine.classes[best] == plain.classes[plain_best]
        assert np.allclose(mine.yxyx[best], plain.yxyx[plain_best], atol=1.0)
        assert abs(mine.scores[best] - plain.scores[plain_best]) < 0.02


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    from odhelper import cli

    (tmp_path / "pics").mkdir()
    code = cli.main(["predict", "--model", str(tmp_path), "-i", str(tmp_path / "pics"),
                     "-o", str(tmp_path / "out")])
    assert code == 1
    assert "no exported SavedModel" in capsys.readouterr().err


def test_the_default_path_sends_batches_and_finds_what_a_client_finds(tiny_run, tmp_path):
    """An odhelper export holds `serving_batched` beside `serving_default` (one uint8
    picture per call): predict sends batches of pictures resized as in training and finds
    what a client calling `serving_default` finds."""
    import tensorflow as tf
    from PIL import Image

    from eval_support import copy_run

    from odhelper import cli
    from odhelper.detections import from_outputs
    from odhelper.engine import predictor

    run = copy_run(tiny_run, tmp_path / "copy")
    assert cli.main(["export", "--run-dir", str(run)]) == 0
    model = predictor.load_model(run)
    assert predictor.batch_capable(model)
    loaded = tf.saved_model.load(str(model.path))
    serving = loaded.signatures["serving_default"]
    assert serving.structured_input_signature[1]["input_tensor"].dtype == tf.uint8
    folder = tiny_run.parent / "pictures"
    paths = predictor.list_images(folder)[:5]  # batches of 3: one full, one partial
    problems = []
    ours = list(predictor.detect(model, paths, folder, problems, batch_size=3))
    assert [p.name for p in ours] == [p.name for p in paths] and not problems
    for path, mine in zip(paths, ours):
        pixels = np.array(Image.open(path).convert("RGB"))
        theirs = from_outputs(serving(input_tensor=tf.constant(pixels[None])), *pixels.shape[:2])
        mine = mine.detections
        assert np.allclose(mine.scores[:10], theirs.scores[:10], atol=0.02)
        assert np.allclose(mine.xyxy[0], theirs.xyxy[0], atol=1.0)


def _clip(pictures: list[Path], path: Path, size=(128, 128)) -> int:
    """An MP4 of the pictures (each shown twice); its frame count."""
    import imageio.v2 as imageio
    from PIL import Image

    frames = [np.asarray(Image.open(p).convert("RGB").resize(size)) for p in pictures] * 2
    with imageio.get_writer(path, format="FFMPEG", mode="I", fps=5, codec="libx264",
                            macro_block_size=2) as writer:
        for frame in frames:
            writer.append_data(frame)
    return len(frames)


def test_a_video_and_pictures_in_one_folder_get_the_same_rule(tiny_run, tmp_path, caplog):
    """The shipped per-class thresholds hold for the pictures AND the video of one
    folder (the video path used to apply 0.50 to every class after announcing them):
    circle at 0.0 keeps every circle, square at 1.0 keeps none."""
    import json

    from odhelper import cli

    export = tmp_path / "export"
    shutil.copytree(tiny_run / "export", export)
    (export / "thresholds.json").write_text(json.dumps({
        "metric": "max F1", "split": "validate", "records": [], "checkpoint": "ckpt-2",
        "step": 4, "classes": {name: {"threshold": value, "precision": None, "recall": None,
                                      "rule": "max F1", "met": True}
                               for name, value in (("circle", 0.0), ("square", 1.0))}}))
    folder = tmp_path / "in"
    folder.mkdir()
    sources = [tiny_run.parent / "pictures" / f"pic00{i}.jpg" for i in range(4)]
    for source in sources:
        shutil.copy(source, folder)
    frames = _clip(sources, folder / "clip.mp4")
    with caplog.at_level("INFO"):
        assert cli.main(["predict", "--model", str(export), "-i", str(folder),
                         "-o", str(tmp_path / "shipped")]) == 0
    announced = [m for m in caplog.messages if "Score threshold" in m]
    assert len(announced) == 1 and "circle 0.000, square 1.000" in announced[0]

    def found(out):
        with open(out / "detections.csv", newline="") as stream:
            pictures = list(csv.DictReader(stream))
        with open(out / "clip_detections.csv", newline="") as stream:
            video = list(csv.DictReader(stream))
        return pictures, video

    pictures, video = found(tmp_path / "shipped")
    assert {r["filename"] for r in pictures} == {p.name for p in sources}
    assert {r["class"] for r in pictures} == {r["class"] for r in video} == {"circle"}
    assert {int(r["frame"]) for r in video} == set(range(frames))  # every circle kept
    assert cli.main(["predict", "--model", str(export), "-i", str(folder),
                     "-o", str(tmp_path / "one"), "--threshold", "0.0"]) == 0
    pictures, video = found(tmp_path / "one")  # one value for all: the squares come back
    assert {r["class"] for r in pictures} == {r["class"] for r in video} == {"circle", "square"}
