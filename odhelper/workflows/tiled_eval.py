"""`evaluate --tile`: whole pictures of a split scored by sliced inference with the
run's exported model (engine/tiled.py), their boxes as the dataset lists them
(pictures.csv and the split's CSV). The per-picture results feed the same tables and
error analysis as any evaluation."""
from __future__ import annotations

from pathlib import Path

from odhelper import log
from odhelper.data import csvout, labelmap
from odhelper.datasetdir import DatasetDir
from odhelper.errors import OdhelperError
from odhelper.metrics.matching import ImageResult
from odhelper.rundir import RunDir


def tiled_results(run_dir: RunDir, split: str, size: int, overlap: float,
                  label_map: Path) -> tuple[list[ImageResult], int, list[str]]:
    """(results of every picture of `split`, the exported step, the pictures' files)."""
    from odhelper.engine import predictor
    from odhelper.engine.tiled import detect_tiled, read_pixels

    folder = run_dir.dataset_folder()
    dataset = DatasetDir(folder) if folder else None
    if dataset is None or not dataset.pictures_csv.is_file() or not dataset.csv(split).is_file():
        raise OdhelperError(f"{run_dir}: --tile needs the run's dataset with its pictures.csv "
                            f"and {split}.csv (convert it again with this odhelper)")
    if not run_dir.exported.recorded():
        raise OdhelperError(f"{run_dir}: --tile scores with the exported model: run "
                            f"`odhelper export -r {run_dir.root}` first")
    ids = labelmap.read(label_map)
    boxes = csvout.read_boxes(dataset.csv(split))
    pictures = [r for r in csvout.read_pictures(dataset.pictures_csv) if r["split"] == split]
    model = predictor.load_model(run_dir.root)
    log.info("Tiled evaluation: %d %s pictures by %d px tiles (overlap %.0f%%) and whole, "
             "with %s", len(pictures), split, size, overlap * 100, model.path)
    results, bar = [], log.progress(total=len(pictures), desc="tiled", unit="img")
    try:
        for row in pictures:
            try:
                pixels = read_pixels(row["picture"])
            except OSError as exc:
                raise OdhelperError(f"{row['picture']}: {exc.strerror or exc} (the dataset's "
                                    "pictures must stay where tfrecord found them)") from None
            truth = boxes.get(row["path"], [])
            found = detect_tiled(model, pixels, size, overlap)
            results.append(ImageResult(
                row["filename"], row["width"], row["height"],
                [(y0, x0, y1, x1) for _, x0, y0, x1, y1 in truth],
                [ids[name] for name, *_ in truth], found))
            bar.update(1)
    finally:
        bar.close()
    return results, int(run_dir.exported.recorded().get("step", 0)), \
        [row["picture"] for row in pictures]
