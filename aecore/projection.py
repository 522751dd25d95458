"""2-D maps of latent codes (UMAP, PCA, t-SNE), and the codes and per-image errors they are drawn with.

Each is an entry of the one array cache (:mod:`aecore.cache`), keyed by the model file's sha256, the
data's fingerprint, and the method and its settings: shipped for the pretrained models, cached for
the rest, computed only when neither has it. A t-SNE or UMAP map is computed once however many visitors ask
for it at once, in a niced worker, one such map at a time in the process (:mod:`aecore.cpu`).
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aecore import cache, cpu, storage

METHODS = ("umap", "pca", "tsne")
METHOD_NAMES = {"umap": "UMAP", "pca": "PCA", "tsne": "t-SNE"}
DEFAULTS = {
    # "knn": "exact" marks maps built on exact neighbours (part of the cache key, like every setting).
    "umap": {"n_neighbors": 15, "min_dist": 0.1, "seed": 0, "knn": "exact"},
    "pca": {},
    "tsne": {"perplexity": 30.0, "seed": 0},
}
Progress = Callable[[float, str], None]
EXPENSIVE = ("umap", "tsne")  # minutes of every core for 10,000 codes: one computation per map, one at a time
FLIGHTS = cpu.SingleFlight()


def settings_for(method: str, settings: dict | None = None, n: int | None = None) -> dict:
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}: use one of {', '.join(METHODS)}")
    out = {**DEFAULTS[method], **(settings or {})}
    if n is not None:
        out["n"] = int(n)
    return out


def data_key(data) -> str:
    """Name plus content fingerprint of a split (ImageData), so a cache never maps rows of other data.

    The bundled sample's test split is the full MNIST test split, so both give the same key."""
    h = hashlib.sha256()
    h.update((data.images * 255).round().to(torch.uint8).numpy().tobytes())
    h.update(data.labels.to(torch.int64).numpy().tobytes())
    return f"{data.dataset}-{data.split}-{h.hexdigest()[:16]}"


def map_name(model_sha: str, dataset: str, method: str, settings: dict) -> str:
    return cache.name("map", model=model_sha, dataset=dataset, method=method, settings=settings)


@dataclass
class Projection:
    coords: np.ndarray  # (N, 2) float32, row i is test image i
    method: str
    settings: dict
    key: str
    cached: str | None  # "shipped", "cache" or None (computed now)
    seconds: float = 0.0
    saved: bool = True  # False when a computed map could not be written to the cache (read-only or full disk)
    dims: int = 0  # of the codes mapped, when known: 1- and 2-D codes are their own map, whatever the method

    @property
    def label(self) -> str:
        return {1: "Latent axis", 2: "Latent plane"}.get(self.dims, METHOD_NAMES[self.method])


def stored_map(key: str) -> tuple[np.ndarray, str] | None:
    """(coords, "shipped" or "cache") of a map, or None."""
    hit = cache.get(key)
    return None if hit is None or "coords" not in hit[0] else (hit[0]["coords"].astype(np.float32), hit[1])


def store(key: str, coords: np.ndarray, folder: Path | None = None, **info) -> bool:
    """Keep float16 coordinates (10k points are 40 kB); False when the cache cannot be written."""
    return cache.put(key, folder, coords=coords.astype(np.float16), info=json.dumps(info))


def reduce(codes: np.ndarray, method: str, settings: dict, on_progress: Progress | None = None) -> np.ndarray:
    """Codes (N, D) -> coordinates (N, 2) float32."""
    report = on_progress or (lambda f, m: None)
    codes = np.asarray(codes, dtype=np.float32)
    n, d = codes.shape
    if n < 3:
        raise ValueError("need at least 3 codes to make a map")
    if d == 1:
        return np.stack([codes[:, 0], np.zeros(n, np.float32)], 1)
    if d == 2:
        return codes.copy()
    if method == "pca":
        report(0.5, "PCA")
        centred = codes - codes.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        return (centred @ vt[:2].T).astype(np.float32)
    if method == "tsne":
        from sklearn.manifold import TSNE

        report(0.2, f"t-SNE: fitting {n:,} points ({'minutes' if n > 3000 else 'seconds'}; fewer points are faster)")
        perplexity = min(float(settings.get("perplexity", 30.0)), max(2.0, (n - 1) / 3))
        tsne = TSNE(2, perplexity=perplexity, init="pca", random_state=settings.get("seed", 0))
        return tsne.fit_transform(codes).astype(np.float32)
    report(0.1, "UMAP: loading (the first use compiles with numba, about 15 s)")
    umap = _umap()
    k = min(int(settings.get("n_neighbors", 15)), n - 1)
    report(0.3, f"UMAP: exact {k} nearest neighbours of {n:,} points")
    # Exact neighbours are one matrix product; UMAP's own approximate search (pynndescent) compiles its
    # numba code again on every run, which costs far more than it saves at this size.
    knn = exact_neighbours(codes, k)
    reducer = umap.UMAP(n_neighbors=k, min_dist=float(settings.get("min_dist", 0.1)),
                        random_state=settings.get("seed", 0), n_jobs=1, precomputed_knn=(*knn, None))
    report(0.4, f"UMAP: laying out {n:,} points")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")  # no transform() needed
        return reducer.fit_transform(codes).astype(np.float32)


# umap-learn compiles these hot functions without numba's disk cache, which cost seconds of every new map
# (each process compiled them again). Only the serial layout is cached: the parallel one, which a seeded
# map never uses, shares its Python function and so would share its cache entry.
UNCACHED_NUMBA = (("umap.layouts", "_nb_optimize_layout_euclidean_single_epoch"),
                  ("umap.umap_", "smooth_knn_dist"), ("umap.umap_", "compute_membership_strengths"))


def _umap():
    """The umap module, with all the numba code a map runs kept in the user cache across runs."""
    import importlib

    storage.third_party_caches()
    import umap

    for module, name in UNCACHED_NUMBA:
        dispatcher = getattr(importlib.import_module(module), name, None)
        if hasattr(dispatcher, "enable_caching"):  # a later umap-learn may have renamed it: only slower
            dispatcher.enable_caching()
    return umap


def exact_neighbours(codes: np.ndarray, k: int, chunk: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Indices (N, k) and Euclidean distances of each code's k nearest codes, itself first."""
    from aecore.metrics import nearest_codes

    x = torch.from_numpy(np.asarray(codes, dtype=np.float64))
    idx, sq_dist = nearest_codes(x, x, k, chunk, self_first=True)
    return idx.numpy(), sq_dist.sqrt().numpy().astype(np.float32)


def project_codes(codes: np.ndarray, model_sha: str, dataset: str, method: str = "umap",
                  settings: dict | None = None, on_progress: Progress | None = None,
                  use_cache: bool = True) -> Projection:
    """Cached projection of precomputed codes (row order kept). Concurrent calls for the same t-SNE or UMAP map
    share one computation (see the module docstring); its progress reaches every caller's ``on_progress``."""
    s = settings_for(method, settings, n=len(codes))
    key = map_name(model_sha, dataset, method, s)

    def stored() -> Projection | None:
        hit = stored_map(key) if use_cache else None
        if hit is None or len(hit[0]) != len(codes):
            return None
        return Projection(hit[0], method, s, key, hit[1], dims=codes.shape[1])

    def compute(report: Progress | None) -> Projection:
        hit = stored()  # again in a shared computation: the one before it may have just stored the map
        if hit is not None:
            return hit
        t0 = time.perf_counter()
        coords = reduce(codes, method, s, report)
        seconds = time.perf_counter() - t0
        saved = use_cache and store(key, coords, method=method, settings=s, dataset=dataset, model=model_sha)
        if report:
            report(1.0, f"{METHOD_NAMES[method]} done in {seconds:.1f} s")
        return Projection(coords.astype(np.float16).astype(np.float32), method, s, key, None, seconds, saved,
                          dims=codes.shape[1])

    if method not in EXPENSIVE or codes.shape[1] <= 2:
        return compute(on_progress)
    waiting = f"waiting for another map to finish before this {METHOD_NAMES[method]} map starts…"
    return stored() or FLIGHTS.run(key, compute, on_progress, waiting)


def cached_projection(codes_len: int, model_sha: str, dataset: str, method: str,
                      settings: dict | None = None, dims: int = 0) -> Projection | None:
    """The projection if it is already shipped or cached, without computing anything (``dims``: of the codes)."""
    s = settings_for(method, settings, n=codes_len)
    key = map_name(model_sha, dataset, method, s)
    hit = stored_map(key)
    if hit is None or len(hit[0]) != codes_len:
        return None
    return Projection(hit[0], method, s, key, hit[1], dims=dims)


def errors_name(model_sha: str, dkey: str) -> str:
    return cache.name("errors", model=model_sha, data=dkey)


def reconstruction_errors(model, model_sha: str, data, dkey: str | None = None, folder: Path | None = None):
    """Per-image reconstruction MSE over ``data`` (N,), from the shipped folder or cache, else computed.

    With ``folder``, only that folder is read and written (how the precompute script fills assets/)."""
    from aecore.device import compute_copy
    from aecore.metrics import per_image_mse, reconstruct_all

    @torch.no_grad()
    def compute() -> dict:
        err = per_image_mse(reconstruct_all(compute_copy(model), data.images, data.labels), data.images)
        return {"values": err.numpy().astype(np.float16)}

    arrays, _ = cache.cached(errors_name(model_sha, dkey or data_key(data)),
                             lambda a: len(a.get("values", ())) == len(data), compute, folder)
    return arrays["values"].astype(np.float32)


def encodings(model, model_sha: str, data, dkey: str | None = None) -> torch.Tensor:
    """Codes of every image in ``data`` (N, D), cached on disk in float16 (not shipped: they are larger)."""
    from aecore.device import compute_copy
    from aecore.metrics import encode_all

    @torch.no_grad()
    def compute() -> dict:
        return {"values": encode_all(compute_copy(model), data).numpy().astype(np.float16)}  # a GPU if there is one

    arrays, _ = cache.cached(cache.name("codes", model=model_sha, data=dkey or data_key(data)),
                             lambda a: getattr(a.get("values"), "shape", None) == (len(data), model.latent_dim),
                             compute, shipped=False)
    return torch.from_numpy(arrays["values"].astype(np.float32))


def _neighbour_mean(values, reference: torch.Tensor, queries: torch.Tensor, k: int) -> torch.Tensor:
    """For each query (Q, D): the mean of ``values`` over its ``k`` nearest ``reference`` rows, weighted by
    inverse distance. Maps a code onto the map (values = coords) or a place onto the codes (values = codes)."""
    from aecore.metrics import nearest_codes

    idx, sq_dist = nearest_codes(queries.to(reference.dtype), reference, min(k, len(reference)))
    w = 1.0 / (sq_dist.sqrt() + 1e-6)
    # Index in numpy first: the rows picked are a fresh array, so values may be read-only (a map file's buffer).
    picked = torch.from_numpy(np.asarray(values, dtype=np.float32)[idx.numpy()])  # (Q, k, d)
    return (picked * w[..., None]).sum(1) / w.sum(1, keepdim=True)


def locate(codes: torch.Tensor, coords: np.ndarray, query: torch.Tensor, k: int = 10) -> np.ndarray:
    """Place new codes (D,) or (Q, D) on an existing map: the distance-weighted mean of their neighbours'
    positions, (2,) or (Q, 2).

    Works for every method (t-SNE and UMAP maps have no exact transform for an unseen point).
    """
    where = _neighbour_mean(coords, codes, query.reshape(-1, codes.shape[1]), k).numpy()
    return where[0] if query.dim() == 1 else where


def code_at(codes, coords, point, k: int = 10) -> torch.Tensor:
    """The code at any place ``point`` (x, y) of a map, empty space included: where the map is linear in the
    codes (PCA, and a 2-D latent space, whose map is the codes themselves) its exact inverse, found by least
    squares from the map itself; otherwise (UMAP, t-SNE) the distance-weighted mean of the codes of the ``k``
    points mapped nearest to it. (UMAP's own inverse_transform needs the fitted model, which is not kept.)"""
    z = torch.as_tensor(np.asarray(codes), dtype=torch.float32)
    xy = torch.as_tensor(np.asarray(coords), dtype=torch.float32)
    p = torch.as_tensor(point, dtype=torch.float32).reshape(1, 2)
    centre_z, centre_xy = z.mean(0), xy.mean(0)
    # If the map is a linear projection of the codes with orthonormal rows (PCA; a 2-D latent is the identity),
    # least squares recovers those rows, and projecting the codes with them gives the map back exactly.
    basis = torch.linalg.lstsq(xy - centre_xy, z - centre_z).solution  # (2, D)
    again = (z - centre_z) @ basis.T
    if float((again - (xy - centre_xy)).norm() / (xy - centre_xy).norm()) < 0.01:
        return ((p - centre_xy) @ basis + centre_z)[0]
    return _neighbour_mean(z, xy, p, k)[0]


@torch.no_grad()
def posterior_on_map(model, x: torch.Tensor, codes, coords, label: int | None = None, n: int = 40,
                     seed: int = 0) -> dict:
    """Where a VAE's posterior q(z|x) of one image lies on a map: for a 2-D latent an ellipse (mean and 2σ
    radii, the map being the latent plane), otherwise ``n`` samples of q(z|x) placed like any new code."""
    mu, logvar = model.encode_distribution(x, model.labels_for(label, 1))
    std = (0.5 * logvar).exp()
    if model.latent_dim == 2:
        return {"centre": mu[0].tolist(), "radii": (2 * std[0]).tolist()}
    z = mu + std * posterior_noise(model.latent_dim, n, seed)
    return {"samples": locate(codes, coords, z)}


def posterior_noise(dim: int, n: int = 40, seed: int = 0) -> torch.Tensor:
    """The standard-normal draws :func:`posterior_on_map` scales by q(z|x) (the browser gets the same ones)."""
    from aecore.seeding import generator

    return torch.randn((n, dim), generator=generator(seed))
