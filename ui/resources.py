"""Per-server caches, shared by every session: models, data, codes, maps and reports.

Everything a page asks of a model goes through :func:`per_model`, one decorator: the result is computed once
per server for a checkpoint's content (its sha256), whoever asks first, and every other session waiting on
the same key gets the same result. The disk caches under them live in ``aecore``."""

from __future__ import annotations

import functools
from collections.abc import Callable

import streamlit as st

from aecore import catalog
from aecore.catalog import ModelEntry


def per_model(spinner: str | bool = False, max_entries: int = 24):
    """Cache ``fn(entry, *args)`` per server, keyed by the checkpoint's content, its dataset and ``args``."""

    def wrap(fn: Callable):
        def compute(path: str, sha: str, dataset: str, *args, _entry: ModelEntry):
            return fn(_entry, *args)

        # Streamlit keys a cache by the function's module, name and source: give each its own name.
        compute.__module__, compute.__qualname__, compute.__name__ = fn.__module__, fn.__qualname__, fn.__name__
        cached = st.cache_resource(show_spinner=spinner, max_entries=max_entries)(compute)

        @functools.wraps(fn)
        def call(entry: ModelEntry, *args):
            return cached(str(entry.path), entry.sha256, entry.dataset, *args, _entry=entry)

        call.clear = cached.clear
        return call

    return wrap


# -- the catalog: a scan of two folders, so new models show up at once ---------------------------------

def models(generative: bool | None = None) -> list[ModelEntry]:
    """Every loadable model now on disk."""
    out = catalog.list_models()
    return out if generative is None else [e for e in out if e.generative == generative]


def shipped(dataset: str = "mnist") -> list[ModelEntry]:
    """The pretrained models of one dataset, in registry order."""
    return [e for e in models() if e.source == "pretrained" and e.dataset == dataset]


def unusable_models() -> list[ModelEntry]:
    """Checkpoint files in the model folders that cannot be used, each with its one-line reason."""
    return [e for e in catalog.list_models(include_broken=True) if e.error]


# -- data ------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner="Loading data…")
def load_data(dataset: str = "mnist", split: str = "test"):
    from aecore import data

    return data.load(dataset, split)


def test_data(entry: ModelEntry):
    return load_data(entry.dataset, "test")


@st.cache_resource(show_spinner=False)
def data_key(dataset: str, split: str = "test") -> str:
    """Dataset name + content fingerprint: part of every disk-cache key."""
    from aecore.projection import data_key as key

    return key(load_data(dataset, split))


def forget_data() -> None:
    """After a download: every page reads the new data."""
    load_data.clear()
    data_key.clear()


@st.cache_resource(show_spinner=False)
def classifier():
    """The reference CNN, or None when it is not installed or unreadable."""
    from aecore.classifier import CLASSIFIER_PATH, load_classifier

    if not CLASSIFIER_PATH.exists():
        return None
    try:
        return load_classifier()
    except Exception:  # noqa: BLE001 - the pages say the classifier is missing
        return None


@st.cache_resource(show_spinner=False)
def device_name() -> str:
    from aecore.device import describe_device

    return describe_device()


# -- what a model makes of the test split ------------------------------------------------------------

@per_model("Loading model…")
def load_model(entry: ModelEntry):
    """(model, metadata)."""
    return catalog.load(entry.path)


def model(entry: ModelEntry):
    return load_model(entry)[0]


def served(cached: Callable, *args):
    """``cached(*args)`` (a served file's name, or a dict naming it as "file"), made again when that file has gone
    from the cache folder (cleared by its user, or another cache folder), so no browser is sent to a missing file."""
    from latent_lab.ui.canvas import served_path

    spec = cached(*args)
    if spec is not None and not served_path(spec["file"] if isinstance(spec, dict) else spec).is_file():
        cached.clear()
        spec = cached(*args)
    return spec


def browser_model(entry: ModelEntry) -> dict | None:
    """What the browser needs to run a model (see _browser_model), or None."""
    return served(_browser_model, entry)


def browser_classifier() -> dict | None:
    """The reference classifier for the browser (see _browser_model), or None."""
    return served(_browser_classifier)


@per_model("Preparing the model for your browser (once)…")
def _browser_model(entry: ModelEntry) -> dict | None:
    """What the browser needs to run a model (ui.canvas): its ONNX export's served name, its code size and whether
    it takes a label; made on first use (aecore.onnx_export). None when it cannot be exported here."""
    from aecore import onnx_export
    from latent_lab.ui.canvas import export_file

    found = onnx_export.find(entry.sha256)
    latent = entry.latent_dim if found else None
    try:
        path = found or onnx_export.ensure(entry.sha256, lambda: model(entry))
        latent = latent or model(entry).latent_dim
    except (onnx_export.ExportUnavailable, OSError):
        return None
    return {"name": entry.name, "file": export_file(path), "latent": int(latent), "conditional": entry.conditional,
            "bytes": path.stat().st_size, "posterior": entry.can("has_likelihood")}  # small ones are fetched first


@st.cache_resource(show_spinner=False)
def _browser_classifier() -> dict | None:
    from aecore import onnx_export
    from aecore.classifier import CLASSIFIER_PATH
    from latent_lab.ui.canvas import export_file

    if classifier() is None:
        return None
    try:
        return {"file": export_file(onnx_export.ensure(catalog.file_sha256(CLASSIFIER_PATH), classifier))}
    except (onnx_export.ExportUnavailable, OSError):
        return None


@st.cache_resource(show_spinner=False, max_entries=16)
def _browser_map(key: str, _entry: ModelEntry, _coords) -> dict | None:
    import base64

    from aecore import browser_map, onnx_export, projection
    from latent_lab.ui.canvas import export_file

    uri, xr, yr = map_picture(key, _coords, test_data(_entry).labels.numpy())
    likely, flat = _entry.can("has_likelihood"), _entry.latent_dim == 2
    noise = projection.posterior_noise(_entry.latent_dim).numpy() if likely and not flat else None
    data = browser_map.pack(_coords, codes(_entry).numpy(), png=base64.b64decode(uri.split(",", 1)[1]), xr=xr, yr=yr,
                           noise=noise)
    try:
        path = browser_map.write(data, onnx_export.cache_dir())
    except OSError:
        return None
    return {"file": export_file(path), "model": _entry.name,
            "posterior": ("ellipse" if flat else "samples") if likely else None}


def browser_map(entry: ModelEntry, proj) -> dict | None:
    """A model's map ``proj`` (a projection.Projection of its test codes) packed for the canvas, which moves the
    drawing's marker on it while the pen moves (aecore.browser_map); None when it cannot be written."""
    return served(_browser_map, f"{entry.sha256}.{proj.key}", entry, proj.coords)


@per_model("Encoding the test split…")
def codes(entry: ModelEntry):
    """Test codes (N, D): memory, then disk cache, else computed."""
    from aecore.projection import encodings

    return encodings(model(entry), entry.sha256, test_data(entry), data_key(entry.dataset))


@per_model("Measuring reconstruction errors…")
def errors(entry: ModelEntry):
    """Per-image test reconstruction MSE (N,): memory, shipped or disk cache, else computed."""
    from aecore.projection import reconstruction_errors

    return reconstruction_errors(model(entry), entry.sha256, test_data(entry), data_key(entry.dataset))


@per_model("Measuring each latent dimension…", max_entries=16)
def kl_per_dim(entry: ModelEntry):
    from aecore.generate import kl_per_dim as kl

    return kl(model(entry), test_data(entry))


@per_model("Measuring on 2,000 test digits…", max_entries=32)
def quick_metrics(entry: ModelEntry) -> dict:
    """Metrics for a checkpoint saved without them (e.g. ``aecore train --fast-eval``)."""
    from aecore.metrics import evaluate

    return evaluate(model(entry), test_data(entry).subset(2000, seed=1))


@per_model("Scoring the test split and the out-of-distribution sets…")
def anomaly_report(entry: ModelEntry) -> dict:
    """Anomaly scores of the test split and each OOD set, with the AUROC table: shipped, cached or computed."""
    from aecore import anomaly

    # Shipped or cached scores need no model: it is loaded only when scores must be computed.
    return anomaly.evaluate_ood(lambda: model(entry), entry.sha256, entry.dataset,
                                likelihood=entry.can("has_likelihood"))


@per_model(max_entries=16)
def evolution(entry: ModelEntry):
    """The training evolution a model's checkpoint keeps (aecore.evolution.Evolution), or None without one."""
    from aecore import evolution as ev

    return ev.from_checkpoint(entry.path.read_bytes())


def auroc_table(entries: list[ModelEntry]):
    """One row per model, score and OOD set: the AUROC and FPR95 of every entry given."""
    import pandas as pd

    return pd.DataFrame([{"model": e.name, "data": e.dataset, **row} for e in entries
                         for row in anomaly_report(e)["rows"]])


def cached_map(entry: ModelEntry, method: str, rows=None):
    """The shipped or disk-cached map of a model's test codes (of ``rows`` only, when given), or None."""
    from aecore import projection as proj

    total = len(test_data(entry))
    return proj.cached_projection(total if rows is None else len(rows), entry.sha256, data_key(entry.dataset),
                                  method, dims=entry.latent_dim)


# -- pictures --------------------------------------------------------------------------------------

@st.cache_resource(show_spinner="Drawing the showcase…", max_entries=4)
def _showcase(shas: tuple[str, ...]) -> dict:
    from aecore import showcase as show

    entries = [e for e in shipped() if e.sha256 in shas]
    return show.assemble({e.name: (e, model(e)) for e in entries}, load_data("mnist", "test"),
                         umap=lambda e: cached_map(e, "umap"), scores=lambda e: anomaly_report(e)["test"]["mse"])


def showcase() -> dict | None:
    """The Home page's pictures, live from the shipped MNIST models (None when none is installed)."""
    entries = shipped()
    return _showcase(tuple(e.sha256 for e in entries)) if entries else None


@st.cache_data(show_spinner=False, max_entries=32)
def map_picture(key: str, _coords, _labels) -> tuple[str, tuple, tuple]:
    """The test digits of a map as one PNG data URI with its data ranges, made once per model and map (``key``)."""
    from latent_lab.ui import figures

    return figures.map_picture(_coords, _labels)


@st.cache_data(show_spinner=False, max_entries=16)
def plane_picture(sha: str, _model, xr: tuple, yr: tuple, n: int = 24) -> tuple[str, tuple, tuple]:
    """A 2-D latent plane decoded on an n x n grid, as one picture to lay under its map (made once a model)."""
    from latent_lab.ui import figures

    return figures.plane_picture(_model, xr, yr, n)
