"""What `odhelper audit` writes: label_issues.csv, the top pictures drawn (label box
against the model's box), review/ (each suspected picture with a LabelImg XML of its
current boxes, to fix in LabelImg) and audit.html (data health, then the issues)."""
from __future__ import annotations

import csv
import html
import shutil
from pathlib import Path
from typing import Mapping, Sequence

from PIL import ImageDraw

from odhelper import files
from odhelper.data.annotation import Annotation, Box, write_xml
from odhelper.data.health import Health, lines
from odhelper.detections import class_name
from odhelper.metrics.label_issues import PictureIssues
from odhelper.metrics.matching import ImageResult
from odhelper.report import draw, markup

CSV_COLUMNS = ["rank", "picture", "annotation", "kind", "class", "suggested_class",
               "label_box", "model_box", "score"]
LABEL_TINT, MODEL_TINT = (255, 200, 0), (0, 160, 255)
LISTED_SCORE = 0.3  # issues under this are left out of the CSV (each picture keeps its worst)


def write_csv(ranked: Sequence[PictureIssues], sources: Mapping[str, dict], path: Path) -> Path:
    """One row per issue, pictures in rank order, each picture's worst issue first."""
    with files.atomic_path(path) as temp, open(temp, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for rank, picture in enumerate(ranked, 1):
            source = sources.get(picture.picture, {})
            for number, issue in enumerate(picture.issues):
                if number and issue.score < LISTED_SCORE:
                    break
                writer.writerow({"rank": rank, "picture": source.get("picture", picture.picture),
                                 "annotation": source.get("annotation", ""), **issue.to_row()})
    return Path(path)


def _file_name(rank: int, picture: str) -> str:
    return f"{rank:03d}_{Path(picture).stem}.jpg"


def draw_top(ranked: Sequence[PictureIssues], sources: Mapping[str, dict], folder: Path,
             count: int) -> list[Path]:
    """The `count` first pictures with each issue's label box (yellow) and model box
    (blue) and its kind; into `folder` (emptied first)."""
    shutil.rmtree(folder, ignore_errors=True)
    drawn = []
    for rank, picture in enumerate(ranked[:count], 1):
        source = sources.get(picture.picture)
        if not source or not Path(source["picture"]).is_file():
            continue
        image = draw.open_rgb(source["picture"])
        pen = ImageDraw.Draw(image)
        width = max(2, round(min(image.size) / 200))
        for issue in picture.issues[:5]:
            if issue.score < LISTED_SCORE and issue is not picture.issues[0]:
                break
            for box, tint in ((issue.label_box, LABEL_TINT), (issue.model_box, MODEL_TINT)):
                if box is not None:
                    pen.rectangle(box, outline=tint, width=width)
            anchor = issue.label_box or issue.model_box
            text = f"{issue.kind} {issue.class_name}->{issue.suggested}".rstrip("->") \
                if issue.suggested else f"{issue.kind} {issue.class_name}".strip()
            pen.text((anchor[0] + 3, anchor[1] + 3), f"{text} {issue.score:.2f}",
                     fill=LABEL_TINT if issue.label_box else MODEL_TINT)
        target = folder / _file_name(rank, source["picture"])
        target.parent.mkdir(parents=True, exist_ok=True)
        with files.atomic_path(target, suffix=".jpg") as temp:
            image.save(temp, format="JPEG", quality=90)
        drawn.append(target)
    return drawn


def write_review(ranked: Sequence[PictureIssues], results: Mapping[str, ImageResult],
                 sources: Mapping[str, dict], names: Mapping[int, str], folder: Path,
                 count: int) -> Path:
    """review/: the `count` first pictures (copied, rank-prefixed names) each with a
    LabelImg XML of the boxes it has now, whatever the input format."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    for rank, picture in enumerate(ranked[:count], 1):
        source, result = sources.get(picture.picture), results[picture.picture]
        if not source or not Path(source["picture"]).is_file():
            continue
        target = folder / (f"{rank:03d}_" + Path(source["picture"]).name)
        with files.atomic_path(target, suffix=target.suffix) as temp:
            shutil.copyfile(source["picture"], temp)
        boxes = [Box(class_name(names, label), float(x0), float(y0), float(x1), float(y1),
                     difficult=bool(hard))
                 for (y0, x0, y1, x1), label, hard in zip(result.gt_boxes, result.gt_classes,
                                                          result.gt_difficult)]
        write_xml(Annotation(target.name, result.width, result.height, boxes=boxes,
                             folder=folder.name, path=str(target.resolve())),
                  target.with_suffix(".xml"))
    return folder


def page(health: Health | None, ranked: Sequence[PictureIssues], sources: Mapping[str, dict],
         drawn: Sequence[Path], facts: Sequence[str], path: Path) -> Path:
    """audit.html: what was scored and how, data health, the ranked pictures."""
    health_html = (f"<pre>{html.escape(chr(10).join(lines(health)))}</pre>" if health
                   else markup.note("no dataset summary to read."))
    rows = []
    for rank, picture in enumerate(ranked[:100], 1):
        worst = picture.issues[0] if picture.issues else None
        if worst is None:
            continue
        rows.append([rank, sources.get(picture.picture, {}).get("picture", picture.picture),
                     worst.kind, worst.class_name, worst.suggested, f"{picture.score:.3f}"])
    pictures = "".join(f'<figure><img alt="{html.escape(p.name)}" src="'
                       f'{html.escape(p.relative_to(path.parent).as_posix())}" width="360">'
                       f"<figcaption>{html.escape(p.name)}</figcaption></figure>" for p in drawn)
    body = ("<h1>odhelper audit</h1>" + "".join(markup.note(f) for f in facts) +
            "<section id='health'><h2>Data health</h2>" + health_html + "</section>" +
            "<section id='issues'><h2>Label issues (most likely first)</h2>" +
            markup.note("yellow: the label's box; blue: the model's box.") +
            markup.table(["rank", "picture", "kind", "class", "model says", "score"], rows) +
            pictures + "</section>")
    files.write_text(path, "<!DOCTYPE html><html><head><meta charset='utf-8'><title>odhelper "
                     "audit</title><style>body{font-family:sans-serif;margin:2em}"
                     "figure{display:inline-block;margin:4px}td,th{padding:2px 8px}"
                     f"</style></head><body>{body}</body></html>\n")
    return Path(path)
