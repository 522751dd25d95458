"""Config validation, data sources and the offline fallback."""

import functools
import gzip
import hashlib
import http.server
import socket
import struct
import threading
import time
import urllib.request

import numpy as np
import pytest
import torch

from aecore import data
from aecore.config import ConfigError, from_dict
from aecore.training import TrainConfig


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


def _idx(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes, as MNIST ships them."""
    return struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.fixture
def silent_server():
    """A server that accepts connections and never answers: a firewall that lets SYN through."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_load_never_downloads_unless_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("AECORE_OFFLINE", raising=False)

    def no_network(*a, **k):
        raise AssertionError("load() tried the network without download=True")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    test = data.load("mnist", "test", data_dir=tmp_path)
    assert test.source.startswith("bundled sample")
    assert list(tmp_path.iterdir()) == []  # and left no empty folders behind


def test_an_unreachable_mirror_fails_over_to_local_data_within_seconds(tmp_path, monkeypatch, silent_server):
    monkeypatch.delenv("AECORE_OFFLINE", raising=False)
    monkeypatch.setenv("AECORE_DOWNLOAD_TIMEOUT", "1")
    monkeypatch.setattr(data, "_mirrors", lambda dataset: ([silent_server, silent_server], [("t10k-x.gz", "0")]))
    t0 = time.perf_counter()
    test = data.load("mnist", "test", data_dir=tmp_path, download=True)
    assert time.perf_counter() - t0 < 5  # two silent mirrors at 1 s each, never a hang
    assert test.source.startswith("bundled sample")
    assert list(tmp_path.iterdir()) == []


def test_offline_setting_refuses_a_download_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_OFFLINE", "1")
    with pytest.raises(data.DataUnavailable, match="AECORE_OFFLINE"):
        data.download_dataset("mnist", tmp_path)


def test_download_fetches_checks_and_unpacks_into_the_data_root(tmp_path, monkeypatch):
    """A real HTTP download from a local mirror: md5-checked, unpacked, then read as the data root."""
    monkeypatch.delenv("AECORE_OFFLINE", raising=False)
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), np.arange(5, dtype=np.uint8)
    served = tmp_path / "mirror"
    served.mkdir()
    files = []
    for prefix in ("train", "t10k"):
        for kind, array in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            blob = gzip.compress(_idx(array))
            (served / f"{prefix}-{kind}.gz").write_bytes(blob)
            files.append((f"{prefix}-{kind}.gz", hashlib.md5(blob).hexdigest()))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        monkeypatch.setattr(data, "_mirrors", lambda dataset: ([url], files))
        progress = []
        root = tmp_path / "root"
        test = data.load("mnist", "test", data_dir=root, download=True, on_progress=lambda f, m: progress.append(f))
        httpd.shutdown()
    assert test.source == f"downloaded to {root}" and test.labels.tolist() == list(range(5))
    assert sorted(p.name for p in (root / "MNIST" / "raw").iterdir()) == sorted(n[:-3] for n, _ in files)
    assert progress[-1] == 1.0
    assert data.load("mnist", "train", data_dir=root).source == f"data root {root}"  # no second download


def test_a_corrupt_download_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("AECORE_OFFLINE", raising=False)
    served = tmp_path / "mirror"
    served.mkdir()
    (served / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"tampered"))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        monkeypatch.setattr(data, "_mirrors", lambda d: ([url], [("t10k-images-idx3-ubyte.gz", "0" * 32)]))
        with pytest.raises(data.DataUnavailable, match="checksum"):
            data.download_dataset("mnist", tmp_path / "root")
        httpd.shutdown()
    assert not (tmp_path / "root").exists()


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


def test_read_idx_handles_gzip_and_refuses_truncation(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "cache"))
    good = tmp_path / "x-idx1-ubyte.gz"
    with gzip.open(good, "wb") as f:
        f.write(struct.pack(">II", 0x0801, 3) + bytes([1, 2, 3]))
    assert data.read_idx(good).tolist() == [1, 2, 3]
    bad = tmp_path / "y-idx1-ubyte"
    bad.write_bytes(struct.pack(">II", 0x0801, 5) + bytes([1]))
    with pytest.raises(data.DataUnavailable, match="truncated"):
        data.read_idx(bad)


def test_a_gzipped_split_is_decompressed_once_and_a_damaged_copy_is_made_again(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "cache"))
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(0).integers(0, 256, (9, 28, 28), dtype=np.uint8)
    for prefix in ("train", "t10k"):
        with gzip.open(raw / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">IIII", 0x0803, 9, 28, 28) + images.tobytes())
        with gzip.open(raw / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">II", 0x0801, 9) + bytes(range(9)))
    first = data.load("mnist", "test", data_dir=tmp_path)
    copies = sorted((tmp_path / "cache" / "idx").iterdir())
    assert [c.name.rsplit("-", 1)[0] for c in copies] == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]

    real_gzip_open = gzip.open
    monkeypatch.setattr(gzip, "open", lambda *a, **k: pytest.fail("decompressed again"))
    again = data.load("mnist", "test", data_dir=tmp_path)  # from the plain copies
    assert again.source == first.source == f"data root {tmp_path}"
    assert torch.equal(again.images, first.images) and torch.equal(again.labels, first.labels)

    monkeypatch.setattr(gzip, "open", real_gzip_open)
    copies[0].write_bytes(copies[0].read_bytes()[:100])  # a damaged copy is discarded and made again
    assert torch.equal(data.load("mnist", "test", data_dir=tmp_path).images, first.images)
    assert copies[0].stat().st_size == 16 + images.size

    source = raw / "t10k-images-idx3-ubyte.gz"  # a replaced file misses
    with gzip.open(source, "wb") as f:
        f.write(struct.pack(">IIII", 0x0803, 9, 28, 28) + (255 - images).tobytes())
    assert torch.allclose(data.load("mnist", "test", data_dir=tmp_path).images, 1 - first.images)


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
