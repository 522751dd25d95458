"""A latent map as one binary file for the browser: the points of the map, the codes they were mapped from and
the digits' labels, so the browser can decode any place of the map as the pointer moves over it, with the same
inverse :func:`aecore.projection.code_at` uses for a click (exact where the map is linear in the codes: PCA, a
2-D code; else the distance-weighted mean of the codes of the nearest points: UMAP, t-SNE).

Layout, little-endian: a 16-byte header of four uint32 (:data:`MAGIC`, :data:`FORMAT`, the number of points
``n`` and the code size ``d``), then float32 only: the map's coordinates (n, 2), the codes (n, d) and the labels
(n). Stored gzipped (like the models' ONNX exports, the server hands the bytes out as they are and the browser
unpacks them) under a name made of the content's sha256, so the browser may keep a copy for ever: a new map is
a new name. The codes come from aecore's float16 cache, so their float32 form packs to about half its size.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from aecore import storage
from aecore.onnx_export import pack

MAGIC = 0x50414D4C  # "LMAP"
FORMAT = 1
SUFFIX = ".map.gz"


def cache_dir() -> Path:
    return storage.cache_root() / "browser-maps"


def to_bytes(coords, codes, labels) -> bytes:
    """The file's content (before gzip) for ``coords`` (n, 2), ``codes`` (n, d) and ``labels`` (n,)."""
    xy = np.ascontiguousarray(np.asarray(coords, dtype="<f4"))
    z = np.ascontiguousarray(np.asarray(codes, dtype="<f4"))
    y = np.asarray(labels, dtype="<f4").reshape(-1)
    n, d = z.shape
    if xy.shape != (n, 2) or y.shape != (n,):
        raise ValueError(f"a map of {len(xy)} points, {n} codes and {len(y)} labels do not match")
    return np.array([MAGIC, FORMAT, n, d], "<u4").tobytes() + xy.tobytes() + z.tobytes() + y.tobytes()


def from_bytes(raw: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coords, codes, labels) of a file's content: the inverse of :func:`to_bytes`."""
    magic, fmt, n, d = (int(v) for v in np.frombuffer(raw[:16], "<u4"))
    if magic != MAGIC or fmt != FORMAT or len(raw) != 16 + 4 * n * (d + 3):
        raise ValueError("not a map file of this format")
    body = np.frombuffer(raw, "<f4", offset=16)
    return body[: 2 * n].reshape(n, 2), body[2 * n: 2 * n + n * d].reshape(n, d), body[2 * n + n * d:]


def write(coords, codes, labels, folder: Path | None = None) -> Path:
    """The stored file for this map (written once: the name is the content's hash). OSError when the folder
    cannot be written."""
    raw = to_bytes(coords, codes, labels)
    path = (folder or cache_dir()) / f"{hashlib.sha256(raw).hexdigest()[:32]}{SUFFIX}"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        storage.write_atomic(path, pack(raw))
    return path
