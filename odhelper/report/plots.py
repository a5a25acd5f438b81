"""matplotlib (Agg) figures for the report, returned as base64 PNG strings."""
from __future__ import annotations

import base64
import io
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

Series = dict[str, list[tuple[int, float]]]


def to_base64(figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def grouped_bars(categories: Sequence[str], groups: dict[str, Sequence[float]], title: str,
                 ylabel: str, ylim: tuple[float, float] | None = None) -> str:
    """One bar per (category, group), e.g. boxes per class for train and validate."""
    figure, axes = plt.subplots(figsize=(max(5, 0.9 * len(categories) + 2), 3.4))
    positions = np.arange(len(categories))
    width = 0.8 / max(1, len(groups))
    for index, (label, values) in enumerate(groups.items()):
        values = [0 if v is None or v != v else v for v in values]  # NaN -> 0
        bars = axes.bar(positions + (index - (len(groups) - 1) / 2) * width, values, width,
                        label=label)
        axes.bar_label(bars, fmt="%.3g", fontsize=7)
    axes.set_xticks(positions, categories, rotation=30 if len(categories) > 6 else 0,
                    ha="right" if len(categories) > 6 else "center")
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    if ylim:
        axes.set_ylim(*ylim)
    axes.legend(fontsize=8)
    return to_base64(figure)


def curves(series: Series, title: str, ylabel: str, log_scale: bool = False) -> str:
    figure, axes = plt.subplots(figsize=(6.5, 3.4))
    for tag, points in sorted(series.items()):
        steps, values = zip(*points)
        axes.plot(steps, values, marker="o" if len(points) < 30 else None, markersize=3,
                  label=tag)
    axes.set_title(title)
    axes.set_xlabel("step")
    axes.set_ylabel(ylabel)
    if log_scale and all(v > 0 for points in series.values() for _, v in points):
        axes.set_yscale("log")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    return to_base64(figure)


def horizontal_bars(labels: Sequence[str], values: Sequence[float], title: str,
                    xlabel: str) -> str:
    figure, axes = plt.subplots(figsize=(6.5, 0.35 * len(labels) + 1.2))
    bars = axes.barh(range(len(labels)), values, color="#4c72b0")
    axes.bar_label(bars, fmt="%.1f", fontsize=7)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    return to_base64(figure)


def image_grid(pictures: Sequence, titles: Sequence[str], columns: int = 4) -> str:
    """PIL pictures in a grid, each with a small title."""
    rows = max(1, -(-len(pictures) // columns))
    figure, grid = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.0 * rows),
                                squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    for axes, picture, title in zip(grid.flat, pictures, titles):
        axes.imshow(np.asarray(picture))
        axes.set_title(title, fontsize=8)
    return to_base64(figure)
