"""Batches of digits as one upscaled PNG (nearest-neighbour), so a strip of digits is one image."""

from __future__ import annotations

import io

import numpy as np

# One colour per digit on every map (Plotly's T10), so pictures and interactive charts agree.
LABEL_COLOURS = ["#4C78A8", "#F58518", "#E45756", "#72B7B2", "#54A24B", "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D",
                 "#BAB0AC"]


def label_rgb(labels) -> np.ndarray:
    """(N, 3) uint8 colours of integer labels."""
    palette = np.array([[int(c[i: i + 2], 16) for i in (1, 3, 5)] for c in LABEL_COLOURS], np.uint8)
    return palette[np.asarray(labels) % len(palette)]


def to_numpy(images) -> np.ndarray:
    """Tensor or array of shape (N, 1, 28, 28), (N, 28, 28) or (28, 28) -> float array (N, H, W) in [0, 1]."""
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    a = np.asarray(images, dtype=np.float32)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 4:
        a = a[:, 0]
    return np.clip(a, 0.0, 1.0)


def tile_array(images, cols: int | None = None, scale: int = 3, pad: int = 1, pad_value: float = 0.25) -> np.ndarray:
    """Grid of digits as a uint8 array; cells upscaled ``scale`` times by pixel repetition."""
    a = to_numpy(images)
    n, h, w = a.shape
    if n == 0:
        return np.zeros((h * scale, w * scale), np.uint8)
    cols = max(1, min(cols or n, n))
    rows = -(-n // cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), pad_value, np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y: y + h, x: x + w] = a[i]
    grid = grid.repeat(scale, 0).repeat(scale, 1)
    return (grid * 255 + 0.5).astype(np.uint8)


def tile_png(images, cols: int | None = None, scale: int = 3, pad: int = 1) -> bytes:
    """Grid of digits as PNG bytes (for ``st.image`` or a download)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(tile_array(images, cols, scale, pad), "L").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def scatter_png(coords, colors, width: int = 720, height: int = 420, dot: int = 3,
                margin: float = 0.03, labels=None,
                label_size: int = 0) -> tuple[bytes, tuple[float, float], tuple[float, float]]:
    """Points drawn as ``dot``-pixel squares on a transparent PNG: a whole map as one small picture.

    ``coords`` (N, 2), ``colors`` (N, 3) uint8. With ``labels`` (N,) each label's number is written where its
    points are densest (their median; ``label_size`` px, default a 16th of the height), so a reader needs no
    colour to tell the groups apart. Returns (png,
    x range, y range): the data ranges the picture spans, so a chart can lay it under its axes and put live
    markers on top."""
    from PIL import Image, ImageDraw, ImageFont

    xy = np.asarray(coords, dtype=np.float64)
    lo, hi = xy.min(0), xy.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - margin * span, hi + margin * span
    col = ((xy[:, 0] - lo[0]) / (hi[0] - lo[0]) * (width - dot)).astype(int)
    row = ((hi[1] - xy[:, 1]) / (hi[1] - lo[1]) * (height - dot)).astype(int)  # y grows upwards
    rgba = np.zeros((height, width, 4), np.uint8)
    rgb = np.asarray(colors, dtype=np.uint8)
    for dy in range(dot):
        for dx in range(dot):
            rgba[row + dy, col + dx, :3] = rgb
            rgba[row + dy, col + dx, 3] = 255
    picture = Image.fromarray(rgba, "RGBA")
    if labels is not None:
        labels = np.asarray(labels)
        draw, font = ImageDraw.Draw(picture), ImageFont.load_default(size=label_size or max(12, height // 16))
        for label in np.unique(labels):
            at = labels == label
            # white on a dark outline: legible on every colour, and on a light or dark page behind
            draw.text((float(np.median(col[at])), float(np.median(row[at]))), str(label), font=font, anchor="mm",
                      fill="white", stroke_width=max(2, (label_size or height // 16) // 8), stroke_fill="black")
    buf = io.BytesIO()
    picture.save(buf, format="PNG")
    return buf.getvalue(), (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))
