"""A model's latent map packed for the browser, so the Draw canvas moves the drawing's marker (and a VAE's
posterior) on every frame while the pen moves, by the rule :func:`aecore.projection.locate` uses on the server.

One little-endian binary file, gzipped, named by its content (so a browser cache never serves an old one):

    uint32 header length, the header (JSON, padded with spaces to a multiple of 4 bytes):
        {"n", "dim", "k", "xr", "yr", "samples", "png"}
    float32 coords (n, 2)      the map's points (the test digits)
    float16 codes (n, dim)     their codes: half the bytes; a neighbour may change only on a near tie
    float32 noise (samples, dim)  the posterior's standard-normal draws (projection.posterior_noise), so the
                                  browser places the same samples of q(z|x) as the server
    png bytes                  the map's picture (the points coloured by label), spanning xr x yr
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
from pathlib import Path

import numpy as np

from aecore import storage

VERSION = 1


def pack(coords, codes, png: bytes, xr, yr, noise=None, k: int = 10) -> bytes:
    coords = np.ascontiguousarray(coords, dtype="<f4")
    codes = np.ascontiguousarray(codes, dtype="<f2")
    noise = np.zeros((0, codes.shape[1]), "<f4") if noise is None else np.ascontiguousarray(noise, dtype="<f4")
    header = json.dumps({"version": VERSION, "n": len(coords), "dim": int(codes.shape[1]), "k": k,
                         "xr": [float(v) for v in xr], "yr": [float(v) for v in yr], "samples": len(noise),
                         "png": len(png)}).encode()
    header += b" " * (-len(header) % 4)
    # codes (2 bytes each) come after the coords and before the noise: pad them to keep the float32 aligned
    pad = b"\0" * (-codes.nbytes % 4)
    return struct.pack("<I", len(header)) + header + coords.tobytes() + codes.tobytes() + pad + noise.tobytes() + png


def unpack(data: bytes) -> dict:
    """The inverse of :func:`pack` (for tests): header fields plus coords, codes (float32), noise, png."""
    (size,) = struct.unpack_from("<I", data)
    head = json.loads(data[4: 4 + size])
    at = 4 + size
    n, dim, s = head["n"], head["dim"], head["samples"]
    coords = np.frombuffer(data, "<f4", n * 2, at).reshape(n, 2)
    at += coords.nbytes
    codes = np.frombuffer(data, "<f2", n * dim, at).reshape(n, dim).astype(np.float32)
    at += n * dim * 2 + (-(n * dim * 2) % 4)
    noise = np.frombuffer(data, "<f4", s * dim, at).reshape(s, dim)
    at += noise.nbytes
    return {**head, "coords": coords, "codes": codes, "noise": noise, "png_bytes": data[at: at + head["png"]]}


def write(data: bytes, folder: Path) -> Path:
    """Store a packed map gzipped under a name taken from its content; an identical file is reused."""
    path = Path(folder) / f"map-{hashlib.sha256(data).hexdigest()[:20]}-v{VERSION}.bin.gz"
    # like the ONNX exports: no name or time in the gzip header, sent by the server as stored
    return path if path.is_file() else storage.write_atomic(path, gzip.compress(data, 9, mtime=0))
