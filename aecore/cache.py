"""One on-disk cache of arrays (latent maps, codes, per-image errors), keyed by content.

An entry is ``<kind>-<hash>.npz``, the hash covering everything its arrays depend on (the model file's
sha256, the data's fingerprint, a method and its settings), so an entry never goes stale: a retrained
model or other data simply misses. Reads try the shipped folder (package data: the pretrained models'
maps and errors, written by ``scripts/precompute_projections.py``) and then the user cache
(``~/.cache/aecore/arrays``). A truncated, empty, bit-flipped or foreign file, or one holding anything but
plain numeric or text arrays, counts as missing: a damaged copy in the user cache is removed, and the entry
is written again when it is computed again. Writes are atomic; a read-only or full cache folder costs only speed, and
:func:`put` says whether it wrote, so captions can tell the truth.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from aecore import storage

SHIPPED_DIR = storage.asset("projections")
KINDS = "biufU"  # what cached arrays hold: numbers, and text (JSON settings); never objects


def cache_dir() -> Path:
    return storage.cache_root() / "arrays"


def name(kind: str, **parts) -> str:
    """The entry's file stem: ``kind`` plus a hash of ``parts`` (JSON-able values)."""
    blob = json.dumps(parts, sort_keys=True)
    return f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:32]}"


def get(entry: str, shipped: bool = True, folders: list[Path] | None = None) -> tuple[dict, str] | None:
    """({array name: array}, "shipped" or "cache") of the first readable copy of ``entry``, or None."""
    where = folders or ([SHIPPED_DIR] if shipped else []) + [cache_dir()]
    for folder in where:
        path = folder / f"{entry}.npz"
        if not path.is_file():
            continue
        arrays = _read(path)
        if arrays is None:
            if folder != SHIPPED_DIR:  # package data is never written; a damaged copy of ours is dropped
                with contextlib.suppress(OSError):  # a read-only cache keeps it: put() fails there anyway
                    path.unlink()
            continue
        return arrays, "shipped" if folder == SHIPPED_DIR else "cache"
    return None


def _read(path: Path) -> dict | None:
    """The arrays of an entry, or None when any of it cannot be read."""
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
    # A damaged file raises whatever its decoder meets first: OSError, BadZipFile (a CRC), zlib.error, EOFError,
    # ValueError (a pickled array, refused), KeyError... Any of them means the same: compute it again.
    except Exception:  # noqa: BLE001
        return None
    return arrays if arrays and all(a.dtype.kind in KINDS for a in arrays.values()) else None


def cached(entry: str, valid: Callable[[dict], bool], compute: Callable[[], dict], folder: Path | None = None,
           shipped: bool = True) -> tuple[dict, str | None]:
    """The one cache-or-compute: (arrays, "shipped" or "cache") of the first readable copy of ``entry`` whose
    arrays pass ``valid``, else (``compute()``, None), stored on the way (a cache that cannot be written only
    costs the next caller the same work). With ``folder``, only that folder is read and written."""
    hit = get(entry, shipped=shipped, folders=[folder] if folder else None)
    if hit is not None and valid(hit[0]):
        return hit
    arrays = compute()
    put(entry, folder, **arrays)
    return arrays, None


def put(entry: str, folder: Path | None = None, **arrays) -> bool:
    """Write ``entry`` atomically; False (nothing written) when the folder cannot be written."""
    try:
        storage.write_atomic((folder or cache_dir()) / f"{entry}.npz", lambda f: np.savez_compressed(f, **arrays))
    except OSError:
        return False
    return True
