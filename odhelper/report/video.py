"""Videos for `odhelper predict`: frames read and the annotated video written with
imageio's ffmpeg plugin (imageio-ffmpeg ships the ffmpeg binary), plus the
per-frame detections CSV."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Iterator

import numpy as np

from odhelper import files
from odhelper.errors import OdhelperError

FRAME_CSV_HEADERS = ("frame", "time", "class", "score", "xmin", "ymin", "xmax", "ymax")
ANNOTATED_SUFFIX = ".mp4"
CSV_SUFFIX = "_detections.csv"


class VideoReader:
    """Frames (RGB uint8 arrays) of one video, with its rate and frame count."""

    def __init__(self, path: Path):
        import imageio.v2 as imageio

        self.path = Path(path)
        try:
            self._reader = imageio.get_reader(str(path), format="FFMPEG")
            meta = self._reader.get_meta_data()
        except (OSError, RuntimeError, ValueError) as exc:
            raise OdhelperError(f"{path}: not a readable video ({exc})") from exc
        self.fps = float(meta.get("fps") or 25.0)
        frames = meta.get("nframes")
        duration = float(meta.get("duration") or 0.0)
        self.frames = int(frames) if frames and math.isfinite(frames) else \
            round(duration * self.fps) or None

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            for frame in self._reader:
                yield np.asarray(frame)[..., :3]
        finally:
            self._reader.close()


def video_writer(path: Path, fps: float):
    """An H.264 MP4 writer (append_data(frame), close())."""
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    return imageio.get_writer(str(path), format="FFMPEG", mode="I", fps=fps, codec="libx264",
                              macro_block_size=2, ffmpeg_log_level="error")


def outputs_for(video: Path, root: Path, out: Path) -> tuple[Path, Path]:
    """(annotated video, detections CSV) mirroring the input tree under `out`."""
    relative = video.relative_to(root) if video != root else Path(video.name)
    target = out / relative
    return target.with_suffix(ANNOTATED_SUFFIX), target.with_name(target.stem + CSV_SUFFIX)


def write_frame_csv(rows: list[list[str]], path: Path) -> None:
    with files.atomic_open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(FRAME_CSV_HEADERS)
        writer.writerows(rows)
