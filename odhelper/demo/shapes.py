"""Drawing one synthetic picture: a noisy background with clutter and 1-N shapes.

Every shape is a polygon (a circle is a 48-gon) so its box is exactly the
min/max of the vertices that were filled. Everything random comes from the
`numpy.random.Generator` passed in, so a picture is a pure function of its seed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

# Shapes that stay easy to tell apart at 160x160 model input. The first three
# are the demo's default classes (the ones STACK.md measured).
SHAPES = ("circle", "square", "triangle", "star", "cross")

MIN_CONTRAST = 90.0  # RGB distance between a shape's colour and the background under it
MAX_PLACEMENT_TRIES = 30


@dataclass(frozen=True)
class DrawnShape:
    name: str
    xmin: int
    ymin: int
    xmax: int  # inclusive pixel indices, as LabelImg writes them
    ymax: int


def unit_polygon(name: str, rng: np.random.Generator) -> np.ndarray:
    """Vertices in [-1, 1] (x, y; y down) of shape `name`, touching the unit box."""
    if name == "circle":
        angles = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if name == "square":
        return np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], float)
    if name == "triangle":
        apex = rng.uniform(-0.6, 0.6)  # not always isosceles
        points = np.array([(apex, -1), (1, 1), (-1, 1)], float)
        return points if rng.random() < 0.5 else points * (1, -1)  # point up or down
    if name == "star":
        angles = -math.pi / 2 + np.arange(10) * math.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.42)
        points = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
        return _fit_unit_box(points)
    if name == "cross":
        t = rng.uniform(0.3, 0.45)  # arm half-thickness
        return np.array([(-t, -1), (t, -1), (t, -t), (1, -t), (1, t), (t, t), (t, 1),
                         (-t, 1), (-t, t), (-1, t), (-1, -t), (-t, -t)], float)
    raise ValueError(f"unknown shape {name!r}; choose from {', '.join(SHAPES)}")


def _fit_unit_box(points: np.ndarray) -> np.ndarray:
    low, high = points.min(axis=0), points.max(axis=0)
    return (points - low) / (high - low) * 2 - 1


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """uint8 HxWx3: a flat colour or a linear gradient between two colours."""
    first, second = rng.uniform(0, 255, (2, 3)).astype(np.float32)
    if rng.random() < 0.5:
        return np.broadcast_to(first.astype(np.uint8), (size, size, 3)).copy()
    angle = rng.uniform(0, 2 * math.pi)
    ramp = np.linspace(-1, 1, size, dtype=np.float32)
    t = (np.float32(np.cos(angle)) * ramp[None, :] + np.float32(np.sin(angle)) * ramp[:, None])
    t = np.clip(t[..., None] / 2 + 0.5, 0, 1)
    return (first + (second - first) * t).astype(np.uint8)


def add_noise(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grey Gaussian sensor noise of a random strength, clipped back to uint8."""
    size = pixels.shape[0]
    noise = rng.standard_normal((size, size, 1), dtype=np.float32) * np.float32(rng.uniform(4, 16))
    noisy = pixels.astype(np.int16)  # int16 arithmetic: faster than float here
    noisy += noise.astype(np.int16)
    return np.clip(noisy, 0, 255, out=noisy).astype(np.uint8)


def draw_clutter(draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: int) -> None:
    """A few thin random lines: distractors that are not objects."""
    for _ in range(rng.integers(0, 5)):
        x0, y0, x1, y1 = rng.uniform(0, size, 4)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(1, 3)))


def _place(rng: np.random.Generator, size: int, scale: tuple[float, float],
           taken: list[tuple[float, float, float, float]]):
    """A (cx, cy, half-width, half-height) whose box stays inside and clear of `taken`."""
    for _ in range(MAX_PLACEMENT_TRIES):
        side = rng.uniform(*scale) * size
        half_w = side / 2
        half_h = half_w * rng.uniform(0.8, 1.25)  # mild aspect changes
        if 2 * half_h > size - 2:
            continue
        cx = rng.uniform(half_w + 1, size - half_w - 1)
        cy = rng.uniform(half_h + 1, size - half_h - 1)
        box = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
        if all(box[2] < t[0] or t[2] < box[0] or box[3] < t[1] or t[3] < box[1] for t in taken):
            return cx, cy, half_w, half_h
    return None


def _contrasting_colour(rng: np.random.Generator, under: np.ndarray) -> tuple[int, int, int]:
    mean = under.reshape(-1, 3).mean(axis=0)
    for _ in range(50):
        colour = rng.integers(0, 256, 3)
        if np.linalg.norm(colour - mean) >= MIN_CONTRAST:
            break
    else:  # very mid-grey background: take the far corner of the RGB cube
        colour = np.where(mean < 128, 255, 0)
    return tuple(int(c) for c in colour)


def draw_picture(rng: np.random.Generator, size: int, names: list[str],
                 scale: tuple[float, float]) -> tuple[Image.Image, list[DrawnShape]]:
    """One RGB picture with the shapes `names` (those that fit) and their boxes."""
    pixels = background(rng, size)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    draw_clutter(draw, rng, size)
    taken, drawn = [], []
    for name in names:
        spot = _place(rng, size, scale, taken)
        if spot is None:
            continue
        cx, cy, half_w, half_h = spot
        points = unit_polygon(name, rng) * (half_w, half_h) + (cx, cy)
        xmin, ymin = np.floor(points.min(axis=0)).astype(int)
        xmax, ymax = np.ceil(points.max(axis=0)).astype(int)
        under = pixels[max(ymin, 0):ymax + 1:4, max(xmin, 0):xmax + 1:4]
        draw.polygon([tuple(p) for p in points], fill=_contrasting_colour(rng, under))
        taken.append((xmin, ymin, xmax, ymax))
        drawn.append(DrawnShape(name, *_filled_extent(image, points)))
    return Image.fromarray(add_noise(np.asarray(image), rng)), drawn


def _filled_extent(image: Image.Image, points: np.ndarray) -> tuple[int, int, int, int]:
    """Pixel box of the polygon as PIL fills it: the vertex extent, clamped inside."""
    width, height = image.size
    xmin, ymin = np.maximum(np.round(points.min(axis=0)).astype(int), 0)
    xmax = min(int(np.round(points[:, 0].max())), width - 1)
    ymax = min(int(np.round(points[:, 1].max())), height - 1)
    return int(xmin), int(ymin), xmax, ymax
