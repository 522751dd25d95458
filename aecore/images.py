"""Batches of digits as one upscaled PNG (nearest-neighbour), so a strip of digits is one image."""

from __future__ import annotations

import io

import numpy as np


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
