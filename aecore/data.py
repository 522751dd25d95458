"""Datasets held in memory as tensors, with every source named.

Sources, tried in order: the data root (``--data-dir``, ``$AECORE_DATA_DIR``, or a per-user cache),
torchvision's download into it, Debian's Fashion-MNIST package, and the bundled MNIST sample.
"""

from __future__ import annotations

import gzip
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

ASSETS = Path(__file__).resolve().parent.parent / "assets"
BUNDLED_SAMPLE = ASSETS / "data" / "mnist_sample.npz"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
DATASETS = ("mnist", "fashion_mnist")
CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}


class DataUnavailable(RuntimeError):
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
    gen = torch.Generator().manual_seed(seed)
    classes = labels.unique()
    per_class = [torch.nonzero(labels == c).flatten() for c in classes]
    per_class = [ix[torch.randperm(len(ix), generator=gen)] for ix in per_class]
    quota = n // len(classes)
    picked = [ix[:quota] for ix in per_class]
    rest = torch.cat([ix[quota:] for ix in per_class])
    extra = rest[torch.randperm(len(rest), generator=gen)[: n - sum(len(p) for p in picked)]]
    idx = torch.cat(picked + [extra])
    return idx[torch.randperm(len(idx), generator=gen)].sort().values


def default_data_dir() -> Path:
    env = os.environ.get("AECORE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "aecore" / "data"


def _as_float(images_u8: Tensor) -> Tensor:
    return images_u8.to(torch.float32).div_(255.0).unsqueeze(1).contiguous()


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) as a numpy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataUnavailable(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataUnavailable(f"{path} is truncated: expected {int(np.prod(dims))} values")
    return body.reshape(dims)


def _torchvision(dataset: str, split: str, root: Path, download: bool) -> tuple[Tensor, Tensor]:
    from torchvision import datasets

    cls = datasets.MNIST if dataset == "mnist" else datasets.FashionMNIST
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = cls(root=str(root), train=split == "train", download=download)
    return ds.data, ds.targets


def _debian_fashion(split: str) -> tuple[Tensor, Tensor]:
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(DEBIAN_FASHION / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(DEBIAN_FASHION / f"{prefix}-labels-idx1-ubyte.gz")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def _bundled(split: str) -> tuple[Tensor, Tensor]:
    with np.load(BUNDLED_SAMPLE) as z:
        return torch.from_numpy(z[f"{split}_images"]), torch.from_numpy(z[f"{split}_labels"].astype(np.int64))


def _download_allowed() -> bool:
    return os.environ.get("AECORE_OFFLINE", "").lower() not in ("1", "true", "yes")


def load(dataset: str = "mnist", split: str = "train", data_dir: str | Path | None = None,
         download: bool | None = None) -> ImageData:
    """Load a split into memory, trying each source in turn; ``source`` says which one answered."""
    if dataset not in DATASETS:
        raise DataUnavailable(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    if split not in ("train", "test"):
        raise DataUnavailable(f"unknown split {split!r}: use train or test")
    root = Path(data_dir).expanduser() if data_dir else default_data_dir()
    download = _download_allowed() if download is None else download
    attempts: list[str] = []

    def done(images, labels, source):
        return ImageData(_as_float(images), labels.long(), dataset, split, source)

    try:
        return done(*_torchvision(dataset, split, root, download=False), f"data root {root}")
    except Exception as e:  # missing or corrupt files: fall through to the next source
        attempts.append(f"data root {root}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    if dataset == "fashion_mnist" and DEBIAN_FASHION.is_dir():
        try:
            return done(*_debian_fashion(split), f"Debian package ({DEBIAN_FASHION})")
        except Exception as e:
            attempts.append(f"Debian: {e}")
    if download:
        try:
            return done(*_torchvision(dataset, split, root, download=True), f"downloaded to {root}")
        except Exception as e:
            attempts.append(f"download: {type(e).__name__}")
    if dataset == "mnist" and BUNDLED_SAMPLE.exists():
        return done(*_bundled(split), f"bundled sample ({BUNDLED_SAMPLE.name}, {split} split)")
    raise DataUnavailable(f"no source has {dataset} {split}: " + "; ".join(attempts))


def sources(data_dir: str | Path | None = None) -> list[dict]:
    """Which dataset files exist where, without loading or downloading anything."""
    root = Path(data_dir).expanduser() if data_dir else default_data_dir()
    rows = []
    for name, folder in (("mnist", root / "MNIST" / "raw"), ("fashion_mnist", root / "FashionMNIST" / "raw")):
        found = folder.is_dir() and any(folder.glob("*idx3-ubyte*"))
        rows.append({"dataset": name, "source": "data root", "path": str(folder), "found": found})
    rows.append({"dataset": "fashion_mnist", "source": "Debian package", "path": str(DEBIAN_FASHION),
                 "found": (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").exists()})
    rows.append({"dataset": "mnist", "source": "bundled sample", "path": str(BUNDLED_SAMPLE),
                 "found": BUNDLED_SAMPLE.exists()})
    return rows


def batches(n: int, batch_size: int, shuffle: bool, generator: torch.Generator | None = None):
    """Index tensors covering range(n): batching by index keeps data as one tensor in memory."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    return order.split(batch_size)
