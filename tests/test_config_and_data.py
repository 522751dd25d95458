"""Config validation, data sources and the offline fallback."""

import gzip
import struct

import numpy as np
import pytest
import torch

from aecore import data
from aecore.config import ConfigError, from_dict
from aecore.train import TrainConfig


def test_bundled_sample_is_real_mnist_and_small():
    assert data.BUNDLED_SAMPLE.stat().st_size <= 4 * 1024 * 1024
    with np.load(data.BUNDLED_SAMPLE) as z:
        assert z["test_images"].shape == (10_000, 28, 28)
        assert z["train_images"].shape == (10_000, 28, 28)
        counts = np.bincount(z["train_labels"], minlength=10)
        assert counts.min() == counts.max() == 1000  # class-balanced
        assert z["test_images"].dtype == np.uint8


def test_falls_back_to_bundled_sample_when_offline(offline_env):
    test = data.load("mnist", "test")
    assert test.source.startswith("bundled sample")
    assert test.images.shape == (10_000, 1, 28, 28) and test.images.dtype == torch.float32
    assert 0 <= test.images.min() and test.images.max() <= 1
    assert test.labels.dtype == torch.int64


def test_download_failure_falls_back_too(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    def no_network(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(tvd.MNIST, "download", no_network)
    test = data.load("mnist", "test", data_dir=tmp_path, download=True)
    assert test.source.startswith("bundled sample")


def test_reads_torchvision_layout_from_a_data_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = np.arange(7, dtype=np.uint8)
    for prefix in ("train", "t10k"):  # torchvision wants both splits present
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x0803, 7, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x0801, 7) + labels.tobytes())
    test = data.load("mnist", "test", data_dir=tmp_path, download=False)
    assert test.source == f"data root {tmp_path}"
    assert torch.allclose(test.images[:, 0] * 255, torch.from_numpy(images).float())
    assert test.labels.tolist() == list(range(7))


def test_read_idx_handles_gzip_and_refuses_truncation(tmp_path):
    good = tmp_path / "x-idx1-ubyte.gz"
    with gzip.open(good, "wb") as f:
        f.write(struct.pack(">II", 0x0801, 3) + bytes([1, 2, 3]))
    assert data.read_idx(good).tolist() == [1, 2, 3]
    bad = tmp_path / "y-idx1-ubyte"
    bad.write_bytes(struct.pack(">II", 0x0801, 5) + bytes([1]))
    with pytest.raises(data.DataUnavailable, match="truncated"):
        data.read_idx(bad)


@pytest.mark.skipif(not (data.DEBIAN_FASHION / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian(offline_env):
    test = data.load("fashion_mnist", "test")
    assert test.source.startswith("Debian package")
    assert test.images.shape == (10_000, 1, 28, 28)


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(data.DataUnavailable, match="unknown dataset"):
        data.load("cifar", "test")


def test_balanced_subset_and_batches(bundled_test):
    sub = bundled_test.subset(500, seed=1)
    assert len(sub) == 500 and torch.bincount(sub.labels, minlength=10).min() == 50
    parts = data.batches(103, 10, shuffle=True, generator=torch.Generator().manual_seed(0))
    assert sorted(torch.cat(parts).tolist()) == list(range(103))


def test_sources_report_what_exists(tmp_path):
    rows = data.sources(tmp_path)
    bundled = [r for r in rows if r["source"] == "bundled sample"]
    assert bundled and bundled[0]["found"]
    assert not [r for r in rows if r["source"] == "data root" and r["found"]]


def test_train_config_validation():
    assert from_dict(TrainConfig, {"epochs": 3.0}).epochs == 3
    for bad in ({"lr": -1.0}, {"lr": float("nan")}, {"batch_size": 0}, {"schedule": "warp"}):
        with pytest.raises(ConfigError):
            from_dict(TrainConfig, bad)
