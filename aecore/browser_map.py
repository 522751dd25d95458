"""A model's latent map packed for the browser, in one file read by two components: the Draw canvas moves the
drawing's marker (and a VAE's posterior) on it while the pen moves, by the rule :func:`aecore.projection.locate`
uses on the server (``ui/frontend/src/map.js``); the Latent space page decodes the place under the pointer with
the inverse :func:`aecore.projection.code_at` uses for a click (``src/decoder.js``).

One little-endian binary file, gzipped, named by its content (so a browser cache never serves an old one):

    uint32 header length, the header (JSON, padded with spaces to a multiple of 4 bytes):
        {"version", "n", "dim", "k", "xr", "yr", "samples", "labels", "png"}
    float32 coords (n, 2)      the map's points (the test digits)
    float16 codes (n, dim)     their codes (aecore's code cache is float16, so nothing is lost), zero-padded to
                               a multiple of 4 bytes
    float32 noise (samples, dim)  the posterior's standard-normal draws (projection.posterior_noise), so the
                                  browser places the same samples of q(z|x) as the server
    uint8 labels (n)           the digits' labels, when "labels" is true
    png bytes                  the map's picture (the points coloured by label) spanning xr x yr, when "png" > 0
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
from pathlib import Path

import numpy as np

from aecore import storage

VERSION = 2
SUFFIX = f"-v{VERSION}.map.gz"
KEEP = 48  # maps kept in the cache folder (0.05-4 MB each), the most recently used


def _span(bounds) -> list[float] | None:
    return None if bounds is None else [float(v) for v in bounds]


def pack(coords, codes, labels=None, png: bytes = b"", xr=None, yr=None, noise=None, k: int = 10) -> bytes:
    """The file's content (before gzip). ValueError when the parts do not describe the same points."""
    coords = np.ascontiguousarray(coords, dtype="<f4")
    codes = np.ascontiguousarray(codes, dtype="<f2")
    n, dim = codes.shape
    noise = np.zeros((0, dim), "<f4") if noise is None else np.ascontiguousarray(noise, dtype="<f4")
    tags = b"" if labels is None else np.asarray(labels).reshape(-1).astype("u1").tobytes()
    if coords.shape != (n, 2) or noise.shape[1:] != (dim,) or (labels is not None and len(tags) != n):
        raise ValueError(f"a map of {len(coords)} points, {n} codes and {len(tags) or 'no'} labels does not match")
    header = json.dumps({"version": VERSION, "n": n, "dim": dim, "k": k, "xr": _span(xr), "yr": _span(yr),
                         "samples": len(noise), "labels": labels is not None, "png": len(png)}).encode()
    header += b" " * (-len(header) % 4)
    pad = b"\0" * (-codes.nbytes % 4)  # keeps the float32 noise aligned after the 2-byte codes
    return (struct.pack("<I", len(header)) + header + coords.tobytes() + codes.tobytes() + pad + noise.tobytes()
            + tags + png)


def unpack(data: bytes) -> dict:
    """The inverse of :func:`pack`: the header's fields plus coords, codes (float32), noise, labels (or None) and
    png_bytes. ValueError for anything else."""
    try:
        (size,) = struct.unpack_from("<I", data)
        head = json.loads(data[4: 4 + size])
        n, dim, s = head["n"], head["dim"], head["samples"]
        if head.get("version") != VERSION:
            raise ValueError
        at = 4 + size
        coords = np.frombuffer(data, "<f4", n * 2, at).reshape(n, 2)
        at += coords.nbytes
        codes = np.frombuffer(data, "<f2", n * dim, at).reshape(n, dim).astype(np.float32)
        at += n * dim * 2 + (-(n * dim * 2) % 4)
        noise = np.frombuffer(data, "<f4", s * dim, at).reshape(s, dim)
        at += noise.nbytes
        labels = np.frombuffer(data, "u1", n, at) if head["labels"] else None
        at += n if head["labels"] else 0
        png = data[at: at + head["png"]]
        if len(png) != head["png"]:
            raise ValueError
    except (ValueError, KeyError, TypeError, struct.error) as err:
        raise ValueError("not a map file of this format") from err
    return {**head, "coords": coords, "codes": codes, "noise": noise, "labels": labels, "png_bytes": png}


def write(data: bytes, folder: Path, keep: int = KEEP) -> Path:
    """Store a packed map gzipped under a name taken from its content; an identical file is reused (and counts
    as just used). Of the folder's maps only the ``keep`` used last stay: every model, projection and subset of
    points makes a new one. OSError when the folder cannot be written."""
    path = Path(folder) / f"map-{hashlib.sha256(data).hexdigest()[:20]}{SUFFIX}"
    if path.is_file():
        path.touch()
        return path
    # like the ONNX exports: no name or time in the gzip header, sent by the server as stored
    storage.write_atomic(path, gzip.compress(data, 9, mtime=0))
    maps = sorted(Path(folder).glob(f"map-*{SUFFIX}"), key=_used, reverse=True)
    for old in maps[keep:]:
        old.unlink(missing_ok=True)
    return path


def _used(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # gone meanwhile (another server's clean-up)
        return 0.0
