"""Datasets held in memory as tensors, with every source named.

One rule, shared by the CLI and the app, finds a split; nothing is downloaded unless asked:

1. the data root (``--data-dir``, else ``$AECORE_DATA_DIR``, else ``~/.cache/aecore/data``; see
   :func:`aecore.storage.data_root`), in torchvision's layout (``MNIST/raw``, ``FashionMNIST/raw``,
   IDX files, plain or gzipped);
2. for Fashion-MNIST, Debian's ``dataset-fashion-mnist`` package;
3. only with ``download=True``: a download into the data root (:func:`download`), with a timeout;
4. the sample bundled with the package: for MNIST the whole test split and 10,000 training images,
   for Fashion-MNIST the whole test split and 5,000 training images.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aecore import storage
from aecore.errors import UserError

if TYPE_CHECKING:  # torch is imported where tensors are made, so `aecore --help` never waits for it
    import torch
    from torch import Tensor

BUNDLED_SAMPLES = {"mnist": storage.asset("data", "mnist_sample.npz"),
                   "fashion_mnist": storage.asset("data", "fashion_mnist_sample.npz")}
BUNDLED_SAMPLE = BUNDLED_SAMPLES["mnist"]
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
DATASETS = ("mnist", "fashion_mnist")
CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}
FOLDERS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}  # torchvision's layout under the data root
PREFIX = {"train": "train", "test": "t10k"}
DOWNLOAD_TIMEOUT = 10.0  # seconds without an answer before a mirror counts as unreachable


class DataUnavailable(UserError, RuntimeError):
    """No source could provide the requested dataset."""


@dataclass
class ImageData:
    """One split in memory: images (N, 1, 28, 28) float32 in [0, 1] and labels (N,) int64."""

    images: Tensor
    labels: Tensor
    dataset: str
    split: str
    source: str  # human-readable: where these tensors came from

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int | None, seed: int = 0) -> ImageData:
        """A class-balanced random slice of at most ``n`` images (all when n is None)."""
        if n is None or n >= len(self):
            return self
        idx = balanced_indices(self.labels, n, seed)
        return ImageData(self.images[idx], self.labels[idx], self.dataset, self.split,
                         f"{self.source} (slice of {n})")

    def to(self, device) -> ImageData:
        return ImageData(self.images.to(device), self.labels.to(device), self.dataset, self.split, self.source)


def balanced_indices(labels: Tensor, n: int, seed: int = 0) -> Tensor:
    """Indices of ``n`` examples, as equal a share per class as possible, in shuffled order."""
    import torch

    from aecore.seeding import generator

    gen = generator(seed)
    classes = labels.unique()
    per_class = [torch.nonzero(labels == c).flatten() for c in classes]
    per_class = [ix[torch.randperm(len(ix), generator=gen)] for ix in per_class]
    quota = n // len(classes)
    picked = [ix[:quota] for ix in per_class]
    rest = torch.cat([ix[quota:] for ix in per_class])
    extra = rest[torch.randperm(len(rest), generator=gen)[: n - sum(len(p) for p in picked)]]
    idx = torch.cat(picked + [extra])
    return idx[torch.randperm(len(idx), generator=gen)].sort().values


def _as_float(images_u8: Tensor) -> Tensor:
    import torch

    return images_u8.to(torch.float32).div_(255.0).unsqueeze(1).contiguous()


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) as a numpy array.

    A gzipped file is decompressed once: its plain bytes are kept in the user cache, which reads in a
    fraction of the time (a damaged copy fails the checks below and is made again).
    """
    path = Path(path)
    if not path.name.endswith(".gz"):
        return _parse_idx(path.read_bytes(), path)
    plain = _plain_copy(path)
    try:
        return _parse_idx(plain.read_bytes(), plain)
    except (OSError, DataUnavailable):
        pass  # not cached yet, or damaged
    with gzip.open(path, "rb") as f:
        data = f.read()
    array = _parse_idx(data, path)
    try:
        storage.write_atomic(plain, data)
    except OSError:
        pass  # a read-only or full cache costs only speed
    return array


def _plain_copy(path: Path) -> Path:
    """Where a gzipped IDX file's decompressed copy sits in the user cache, named by the file's path, size
    and modification time, so that a replaced or edited file misses."""
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return storage.cache_root() / "idx" / f"{path.name.removesuffix('.gz')}-{key}"


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataUnavailable(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataUnavailable(f"{path} is truncated: expected {int(np.prod(dims))} values")
    return body.reshape(dims)


def _idx_pair(folder: Path, split: str) -> tuple[Tensor, Tensor]:
    """Images and labels of one split from IDX files in ``folder`` (plain or gzipped)."""
    def find(kind: str) -> Path:
        for name in (f"{PREFIX[split]}-{kind}", f"{PREFIX[split]}-{kind}.gz"):
            if (folder / name).is_file():
                return folder / name
        raise DataUnavailable(f"no {PREFIX[split]}-{kind} in {folder}")

    import torch

    images, labels = read_idx(find("images-idx3-ubyte")), read_idx(find("labels-idx1-ubyte"))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (len(images),):
        raise DataUnavailable(f"{folder}: images {images.shape} and labels {labels.shape} do not match")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def _debian_fashion(split: str) -> tuple[Tensor, Tensor]:
    return _idx_pair(DEBIAN_FASHION, split)


def _bundled(dataset: str, split: str) -> tuple[Tensor, Tensor]:
    import torch

    with np.load(BUNDLED_SAMPLES[dataset]) as z:
        return torch.from_numpy(z[f"{split}_images"]), torch.from_numpy(z[f"{split}_labels"].astype(np.int64))


def load(dataset: str = "mnist", split: str = "train", data_dir: str | Path | None = None,
         download: bool = False, on_progress: Callable[[float, str], None] | None = None) -> ImageData:
    """Load a split into memory from the first source that has it (see the module docstring);
    ``source`` says which one answered. Downloads only when ``download`` is True."""
    if dataset not in DATASETS:
        raise DataUnavailable(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    if split not in PREFIX:
        raise DataUnavailable(f"unknown split {split!r}: use train or test")
    root = storage.data_root(data_dir)
    folder = root / FOLDERS[dataset] / "raw"
    attempts: list[str] = []

    def done(images, labels, source):
        return ImageData(_as_float(images), labels.long(), dataset, split, source)

    try:
        return done(*_idx_pair(folder, split), f"data root {root}")
    except (DataUnavailable, OSError, EOFError) as e:  # missing or corrupt files: try the next source
        attempts.append(f"data root: {e}")
    if dataset == "fashion_mnist" and DEBIAN_FASHION.is_dir():
        try:
            return done(*_debian_fashion(split), f"Debian package ({DEBIAN_FASHION})")
        except (DataUnavailable, OSError, EOFError) as e:
            attempts.append(f"Debian package: {e}")
    if download:
        try:
            download_dataset(dataset, root, on_progress=on_progress)
            return done(*_idx_pair(folder, split), f"downloaded to {root}")
        except (DataUnavailable, OSError, EOFError) as e:
            attempts.append(str(e))
    sample = BUNDLED_SAMPLES[dataset]
    if sample.exists():
        return done(*_bundled(dataset, split), f"bundled sample ({sample.name}, {split} split)")
    raise DataUnavailable(f"no source has {dataset} {split}: " + "; ".join(attempts)
                          + ("" if download else " (aecore data --download fetches it)"))


def sources(data_dir: str | Path | None = None) -> list[dict]:
    """Which dataset files exist where, in the order :func:`load` tries them; reads and downloads nothing."""
    root = storage.data_root(data_dir)
    rows = []
    for name, folder in FOLDERS.items():
        path = root / folder / "raw"
        found = path.is_dir() and any(path.glob("*-images-idx3-ubyte*"))
        rows.append({"dataset": name, "source": "data root", "path": str(path), "found": found})
    rows.append({"dataset": "fashion_mnist", "source": "Debian package", "path": str(DEBIAN_FASHION),
                 "found": (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").exists()})
    for name, sample in BUNDLED_SAMPLES.items():
        rows.append({"dataset": name, "source": "bundled sample", "path": str(sample), "found": sample.exists()})
    return rows


def _mirrors(dataset: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Base URLs and (file name, md5) of a dataset: torchvision's lists, so they stay current."""
    from torchvision import datasets

    cls = datasets.MNIST if dataset == "mnist" else datasets.FashionMNIST
    return list(cls.mirrors), list(cls.resources)


def download_dataset(dataset: str = "mnist", data_dir: str | Path | None = None, timeout: float | None = None,
             on_progress: Callable[[float, str], None] | None = None, mirrors: list[str] | None = None) -> Path:
    """Fetch a dataset's four IDX files into the data root and return their folder.

    Each file is checked against its md5 and written atomically; files already there are kept. A mirror
    that does not answer within ``timeout`` seconds is skipped, so this never hangs: with no network it
    ends in a DataUnavailable within (mirrors × timeout) seconds. ``AECORE_OFFLINE=1`` refuses at once."""
    if dataset not in DATASETS:
        raise DataUnavailable(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    if os.environ.get("AECORE_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise DataUnavailable("not downloading: AECORE_OFFLINE is set")
    timeout = float(os.environ.get("AECORE_DOWNLOAD_TIMEOUT", DOWNLOAD_TIMEOUT)) if timeout is None else timeout
    report = on_progress or (lambda fraction, message: None)
    default_mirrors, files = _mirrors(dataset)
    folder = storage.data_root(data_dir) / FOLDERS[dataset] / "raw"
    for i, (name, md5) in enumerate(files):
        target = folder / name.removesuffix(".gz")
        if target.is_file():
            continue
        message = f"downloading {name} ({i + 1}/{len(files)})"
        report(i / len(files), message)
        payload = _fetch(name, md5, mirrors or default_mirrors, timeout,
                         lambda f, i=i, message=message: report((i + f) / len(files), message))
        storage.write_atomic(target, gzip.decompress(payload))
    report(1.0, f"{dataset} is in {folder}")
    return folder


def _fetch(name: str, md5: str, mirrors: list[str], timeout: float, report: Callable[[float], None]) -> bytes:
    problems = []
    for base in mirrors:
        try:
            with urllib.request.urlopen(base + name, timeout=timeout) as response:
                total = int(response.headers.get("Content-Length") or 0)
                chunks, got = [], 0
                while chunk := response.read(1 << 16):
                    chunks.append(chunk)
                    got += len(chunk)
                    if total:
                        report(got / total)
            payload = b"".join(chunks)
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            problems.append(f"{urllib.request.urlparse(base).hostname}: {str(reason)[:80] or type(e).__name__}")
            continue
        if hashlib.md5(payload).hexdigest() == md5:
            return payload
        problems.append(f"{urllib.request.urlparse(base).hostname}: {name} failed its checksum")
    raise DataUnavailable(f"could not download {name} (offline?): " + "; ".join(problems))


def batches(n: int, batch_size: int, shuffle: bool, generator: torch.Generator | None = None, device=None):
    """Index tensors covering range(n): batching by index keeps data as one tensor in memory. With
    ``device``, the indices move there once per epoch, so a GPU gathers each batch itself."""
    import torch

    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    return order.to(device or "cpu").split(batch_size)
