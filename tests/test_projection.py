import numpy as np
import pytest
import torch

from aecore import cache as array_cache
from aecore import projection


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    return tmp_path / "arrays"


def blobs(n=300, d=6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (3, d))
    labels = rng.integers(0, 3, n)
    return (centres[labels] + rng.normal(0, 0.5, (n, d))).astype(np.float32), labels


def test_second_call_hits_the_cache(cache):
    codes, _ = blobs()
    first = projection.project_codes(codes, "sha-a", "mnist", "pca")
    assert first.cached is None and first.coords.shape == (300, 2)
    assert len(list(cache.glob("*.npz"))) == 1
    calls = []
    second = projection.project_codes(codes, "sha-a", "mnist", "pca", on_progress=lambda f, m: calls.append(m))
    assert second.cached == "cache" and not calls
    np.testing.assert_allclose(second.coords, first.coords, atol=1e-2)
    assert projection.cached_projection(300, "sha-a", "mnist", "pca") is not None


def test_key_depends_on_model_dataset_method_and_settings(cache):
    codes, _ = blobs()
    projection.project_codes(codes, "sha-a", "mnist", "pca")
    assert projection.cached_projection(300, "sha-b", "mnist", "pca") is None
    assert projection.cached_projection(300, "sha-a", "fashion_mnist", "pca") is None
    assert projection.cached_projection(300, "sha-a", "mnist", "tsne") is None
    assert projection.cached_projection(299, "sha-a", "mnist", "pca") is None
    keys = {projection.map_name("m", "mnist", "umap", projection.settings_for("umap", {"n_neighbors": k}, 10))
            for k in (5, 15)}
    assert len(keys) == 2


def test_shipped_projections_are_read_first(cache, tmp_path, monkeypatch):
    shipped = tmp_path / "shipped"
    monkeypatch.setattr(array_cache, "SHIPPED_DIR", shipped)
    codes, _ = blobs(50)
    s = projection.settings_for("pca", n=50)
    key = projection.map_name("sha-s", "mnist", "pca", s)
    projection.store(key, np.ones((50, 2), np.float32), folder=shipped)
    p = projection.project_codes(codes, "sha-s", "mnist", "pca")
    assert p.cached == "shipped" and np.all(p.coords == 1)


def test_corrupt_cache_file_is_recomputed(cache):
    codes, _ = blobs(40)
    p = projection.project_codes(codes, "sha-c", "mnist", "pca")
    (cache / f"{p.key}.npz").write_bytes(b"garbage")
    again = projection.project_codes(codes, "sha-c", "mnist", "pca")
    assert again.cached is None


def test_tsne_separates_clusters(cache):
    codes, labels = blobs(150)
    p = projection.project_codes(codes, "sha-t", "mnist", "tsne", use_cache=False)
    centroids = np.stack([p.coords[labels == k].mean(0) for k in range(3)])
    spread = max(p.coords[labels == k].std(0).max() for k in range(3))
    assert np.linalg.norm(centroids[0] - centroids[1]) > spread


def test_umap_small(cache):
    codes, labels = blobs(120, d=5)
    messages = []
    p = projection.project_codes(codes, "sha-u", "mnist", "umap", on_progress=lambda f, m: messages.append(m))
    assert p.coords.shape == (120, 2) and np.isfinite(p.coords).all()
    assert messages and "UMAP" in messages[0]
    assert projection.project_codes(codes, "sha-u", "mnist", "umap").cached == "cache"


def test_umap_caches_the_numba_code_it_compiles(cache):
    """umap-learn leaves its hot functions out of numba's disk cache; a map turns it on before their first
    call, so a new map in a new process loads them instead of compiling them again (10 s)."""
    import importlib

    from numba.core.caching import FunctionCache

    projection.reduce(blobs(60, d=5)[0], "umap", projection.settings_for("umap"))
    for module, name in projection.UNCACHED_NUMBA:
        dispatcher = getattr(importlib.import_module(module), name)
        assert isinstance(dispatcher._cache, FunctionCache), name
        assert dispatcher.signatures, name  # it ran, so its compiled code is on disk


def test_low_dimensional_codes_pass_through():
    one = np.arange(10, dtype=np.float32)[:, None]
    assert projection.reduce(one, "umap", {}).shape == (10, 2)
    with pytest.raises(ValueError):
        projection.reduce(np.zeros((2, 5), np.float32), "pca", {})
    with pytest.raises(ValueError):
        projection.settings_for("mds")


def test_nearest_and_locate():
    codes = torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [0.0, 1.0]])
    from aecore.metrics import nearest_codes

    idx, dist = nearest_codes(torch.tensor([[0.9, 0.1]]), codes, k=2)
    assert idx[0].tolist() == [1, 0] and dist[0, 0] < dist[0, 1]
    coords = np.array([[0, 0], [10, 0], [50, 50], [0, 10]], np.float32)
    where = projection.locate(codes, coords, torch.tensor([1.0, 0.0]), k=1)
    np.testing.assert_allclose(where, [10, 0], atol=1e-3)


def test_data_key_is_content_based():
    from aecore.data import load

    test = load("mnist", "test", data_dir="/nonexistent-aecore-root", download=False)
    a = projection.data_key(test.subset(100))
    assert a.startswith("mnist-test-") and a == projection.data_key(test.subset(100))
    assert a != projection.data_key(test.subset(100, seed=5))


def test_errors_and_codes_are_cached(cache, tiny_models_dir):
    from aecore import catalog
    from aecore.data import load

    test = load("mnist", "test", data_dir="/nonexistent-aecore-root", download=False).subset(300)
    entry = catalog.describe(tiny_models_dir / "vae.safetensors", "yours")
    model, _ = catalog.load(entry)
    err = projection.reconstruction_errors(model, entry.sha256, test)
    codes = projection.encodings(model, entry.sha256, test)
    assert err.shape == (300,) and (err > 0).all() and codes.shape == (300, 8)
    assert len(list(cache.glob("errors-*.npz"))) == 1 and len(list(cache.glob("codes-*.npz"))) == 1
    broken = type("Broken", (), {"latent_dim": 8})()  # a cache hit never touches the model
    np.testing.assert_allclose(projection.reconstruction_errors(broken, entry.sha256, test), err)
    torch.testing.assert_close(projection.encodings(broken, entry.sha256, test), codes)


def test_precompute_script_writes_shipped_maps(cache, tiny_models_dir, tmp_path, monkeypatch):
    import sys

    from app_support import REPO

    from aecore import catalog
    from aecore.data import load

    sys.path.insert(0, str(REPO / "scripts"))
    import precompute_projections

    out = tmp_path / "shipped"
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("AECORE_OFFLINE", "1")
    assert precompute_projections.main(["--models-dir", str(tiny_models_dir), "--out", str(out),
                                        "--methods", "pca", "--models", "dense", "vae"]) == 0
    count = {kind: len(list(out.glob(f"{kind}-*.npz"))) for kind in ("errors", "map", "anomaly", "complexity")}
    # each model: its errors, a PCA map, anomaly scores of the test split and 3 OOD sets; PNG lengths are shared
    assert count == {"errors": 2, "map": 2, "anomaly": 8, "complexity": 4} and len(list(out.glob("*.npz"))) == 16
    monkeypatch.setattr(array_cache, "SHIPPED_DIR", out)
    test = load("mnist", "test")
    entry = catalog.describe(tiny_models_dir / "dense.safetensors", "pretrained")
    hit = projection.cached_projection(len(test), entry.sha256, projection.data_key(test), "pca")
    assert hit is not None and hit.cached == "shipped" and hit.coords.shape == (len(test), 2)
    assert not list(cache.glob("*.npz"))  # nothing had to be computed into the user cache


def test_exact_neighbours_match_brute_force_and_start_with_the_point_itself():
    codes, _ = blobs(120)
    codes[7] = codes[3]  # a duplicate must still list itself first
    idx, dist = projection.exact_neighbours(codes, 6, chunk=50)  # chunks smaller than N
    full = np.linalg.norm(codes[:, None] - codes[None], axis=-1)
    assert idx.shape == dist.shape == (120, 6)
    assert (idx[:, 0] == np.arange(120)).all() and np.allclose(dist[:, 0], 0, atol=1e-3)
    np.testing.assert_allclose(dist, np.sort(full, 1)[:, :6], atol=1e-4)


def test_code_at_inverts_pca_and_interpolates_other_maps():
    """Decode anywhere: on a PCA map the code at a place projects back to that place; on a non-linear map the
    code at a mapped digit's place is (nearly) that digit's code."""
    import numpy as np
    import torch

    from aecore import projection

    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 8)).astype(np.float32) * np.arange(1, 9, dtype=np.float32)
    coords = projection.reduce(codes, "pca", {})
    point = (0.3, -1.7)  # empty space is fine
    z = projection.code_at(codes, coords.astype(np.float16).astype(np.float32), point).numpy()
    centred = codes - codes.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(np.abs((z - codes.mean(0)) @ vt[:2].T), np.abs(point), atol=0.02)  # signs: SVD's
    warped = np.stack([np.tanh(codes[:, 0]), codes[:, 1] ** 3], 1)  # not a linear map of the codes
    got = projection.code_at(codes, warped, warped[7], k=5)
    assert torch.allclose(got, torch.from_numpy(codes[7]), atol=1e-3)
    plane = codes[:, :2]
    assert torch.allclose(projection.code_at(plane, plane, (9.0, 9.0)), torch.tensor([9.0, 9.0]))


def test_a_two_dimensional_code_is_called_its_latent_plane_whatever_the_method(cache):
    """A 2-D code is its own map: captions say "Latent plane", not the method that was asked for."""
    codes = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    p = projection.project_codes(codes, "sha-2d", "mnist", "umap")
    assert p.label == "Latent plane" and np.allclose(p.coords, codes, atol=1e-2)
    again = projection.cached_projection(50, "sha-2d", "mnist", "umap", dims=2)
    assert again.label == "Latent plane"
    wide = projection.project_codes(np.random.default_rng(0).normal(size=(50, 5)).astype(np.float32),
                                    "sha-5d", "mnist", "pca")
    assert wide.label == "PCA"
