"""Glue between Streamlit and aecore: the page list, caches (per server, shared by every session), model
pickers, the training job a tab shows, and one error guard so no page ever shows a traceback.
All logic lives in aecore; figures.py draws, widgets.py holds the shared widgets."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import contextmanager
from typing import NamedTuple

import streamlit as st

from aecore import catalog
from aecore.catalog import ModelEntry
from aecore.checkpoint import CheckpointError
from aecore.config import ConfigError
from aecore.data import DataUnavailable
from aecore.preprocess import PreprocessError
from aecore.train import TrainingDiverged


class PageInfo(NamedTuple):
    path: str  # relative to app.py
    label: str
    icon: str
    url: str  # "" for the home page
    blurb: str  # one line on the home page


PAGES = [
    PageInfo("pages/0_Home.py", "Home", ":material/home:", "", "what this is, the models, the data"),
    PageInfo("pages/1_Train.py", "Train", ":material/model_training:", "Train", "train a model, watch it learn"),
    PageInfo("pages/2_Draw.py", "Draw", ":material/draw:", "Draw", "draw a digit, see reconstructions"),
    PageInfo("pages/3_Latent_space.py", "Latent space", ":material/scatter_plot:", "Latent_space",
             "explore the codes as a map"),
    PageInfo("pages/4_Generate.py", "Generate", ":material/auto_awesome:", "Generate", "sample, interpolate, traverse"),
    PageInfo("pages/5_Compare.py", "Compare", ":material/compare:", "Compare", "metrics, digits, denoising"),
    PageInfo("pages/6_Anomalies.py", "Anomalies", ":material/troubleshoot:", "Anomalies",
             "what a model finds strange: out-of-distribution detection"),
    PageInfo("pages/7_Tour.py", "Guided tour", ":material/slideshow:", "Tour", "seven steps for an audience"),
    PageInfo("pages/8_Directions.py", "Directions", ":material/arrow_right_alt:", "Directions",
             "thin → bold, 4 → 9: directions with meaning"),
    PageInfo("pages/9_Side_by_side.py", "Side by side", ":material/view_column_2:", "Side_by_side",
             "two models' maps, linked selection"),
]
EXPECTED = (CheckpointError, ConfigError, DataUnavailable, PreprocessError, TrainingDiverged, ValueError, OSError)


def page(title: str) -> None:
    """The page's title (app.py's navigation gives the menu, the tab title and the layout), in presenter
    mode with type and pictures sized for a projector."""
    if presenter():
        st.html(PRESENTER_CSS)
    st.title(title)


# Larger type, and captions as dark (or light) as the text: pale grey vanishes on a projector. Colours come
# from the theme's own text colour, so this reads in the light theme and the dark one.
PRESENTER_CSS = """<style>
html { font-size: 20px; }
[data-testid="stCaptionContainer"], [data-testid="stImageCaption"] { opacity: 1; color: inherit !important;
  font-size: 0.95rem; }
[data-testid="stImage"] img { image-rendering: pixelated; }
h1 { font-size: 2.6rem !important; }
</style>"""


def presenter() -> bool:
    """Presenter mode: the sidebar toggle, or ``?presenter=1`` in the URL (so a link opens it)."""
    if "presenter" in st.session_state:
        return bool(st.session_state["presenter"])
    return st.query_params.get("presenter", "") in ("1", "true", "yes")


def set_presenter(on: bool) -> None:
    st.session_state["presenter"] = on
    if on:
        st.query_params["presenter"] = "1"
    else:
        st.query_params.pop("presenter", None)


def _server_log() -> logging.Logger:
    """The app's one logger: full tracebacks go to the server's stderr, never to the browser."""
    log = logging.getLogger("latent_lab")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


LOG = _server_log()


@contextmanager
def guard(what: str = ""):
    """Show any failure as one line (st.error), never a traceback; the server log keeps the traceback.
    Streamlit's stop/rerun pass through."""
    try:
        yield
    except EXPECTED as e:
        LOG.warning("%s: %s", what or "refused", e, exc_info=LOG.isEnabledFor(logging.DEBUG))
        st.error(f"{what}{': ' if what else ''}{e}")
    except Exception as e:  # noqa: BLE001
        LOG.exception("%s failed", what or "a page")
        st.error(f"{what or 'Something went wrong'}: {type(e).__name__}: {str(e)[:300]} (details in the server log)")


def page_link(path: str) -> None:
    """A link to one of the app's pages (plain text when the page is run on its own, as in tests)."""
    from streamlit.errors import StreamlitAPIException

    for p in PAGES:
        if p.path == path:
            try:
                st.page_link(p.path, label=p.label, icon=p.icon)
            except StreamlitAPIException:
                st.markdown(p.label)


def chart_selection(event) -> tuple[list[int], tuple[float, float] | None]:
    """(test rows selected on a latent map, the place clicked on its decode grid or None) from a Plotly event.

    A point's customdata[0] is its test row, or ``figures.GRID_ROW`` on the invisible decode grid; points without
    customdata (the rings of a shared selection) are not digits. Plotly sends numpy customdata as a typed array,
    so in the browser's event a row is {"0": .., "1": ..}."""
    import figures

    points = (event.selection.points if event is not None and hasattr(event, "selection") else None) or []
    tagged = [(int(c["0"] if isinstance(c, dict) else c[0]), p) for p in points if (c := p.get("customdata"))]
    rows = sorted({row for row, _ in tagged if row != figures.GRID_ROW})
    grid = [p for row, p in tagged if row == figures.GRID_ROW]
    return rows, ((float(grid[0]["x"]), float(grid[0]["y"])) if len(grid) == 1 and not rows else None)


@st.cache_data(show_spinner=False, max_entries=16)
def plane_picture(sha: str, _model, xr: tuple, yr: tuple, n: int = 24) -> tuple[str, tuple, tuple]:
    """A 2-D latent plane decoded on an n x n grid, as one picture to lay under its map (made once a model)."""
    import figures

    return figures.plane_picture(_model, xr, yr, n)


def direction_groups(entry: ModelEntry) -> dict | None:
    """The two groups of test rows picked on the Latent space page for this model ({"a": rows, "b": rows}),
    once both exist."""
    groups = st.session_state.get("direction_groups", {}).get(entry.name, {})
    return groups if groups.get("a") and groups.get("b") else None


def keep_direction_group(entry: ModelEntry, which: str, rows: list[int]) -> None:
    st.session_state.setdefault("direction_groups", {}).setdefault(entry.name, {})[which] = list(rows)


# -- shareable views ---------------------------------------------------------------------------------

IN_URL = "query-params"  # a widget's ``bind=``: its value lives in the URL, so a copied link reopens the view

class Within(NamedTuple):
    """A number range, as the allowed values of a :func:`restore_view` parameter."""

    low: float
    high: float


def restore_view(params: dict[str, tuple[str, Sequence]], view: str | None = None) -> list[int]:
    """On a session's first run of a page, copy the URL's view into its widgets, so a shared link reopens
    the same view: ``params`` maps a URL parameter to (widget key, allowed values), or to (widget key,
    Within(low, high)) for a number in that range; a value that is not allowed (an old model, a typo) is ignored.
    Returns the test rows of a shared selection (``sel``). Plain widgets need none of this: they take
    ``bind="query-params"``; this serves what such a binding cannot (a selection, keys that change with the
    model, choices shown with a caption). ``view`` names the restore when the keys change with the model
    (it then happens once per session, not once per key)."""
    flag = "_view_restored." + (view or ".".join(key for key, _ in params.values()))
    if not st.session_state.get(flag):
        st.session_state[flag] = True
        for param, (key, allowed) in params.items():
            text = st.query_params.get(param)
            value = _number_in(text, allowed) if isinstance(allowed, Within) else next(
                (a for a in allowed if str(a) == text), None)
            if value is not None:
                st.session_state[key] = value
        try:
            st.session_state[flag + ".sel"] = [int(r) for r in st.query_params.get("sel", "").split(",") if r]
        except ValueError:
            st.session_state[flag + ".sel"] = []
    return st.session_state.get(flag + ".sel", [])


def _number_in(text: str | None, bounds: Within) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if bounds.low <= value <= bounds.high else None


def share_view(values: dict, rows: list[int] | None = None, limit: int = 300) -> None:
    """Write the view into the URL (a copied link reopens it); a selection of more than ``limit`` digits
    keeps its first ``limit`` (URLs have a length limit)."""
    for param, value in values.items():
        st.query_params[param] = str(value)
    if rows:
        st.query_params["sel"] = ",".join(str(r) for r in rows[:limit])
    else:
        st.query_params.pop("sel", None)


# -- models and data -------------------------------------------------------------------------------

def models(generative: bool | None = None) -> list[ModelEntry]:
    """Every loadable model now on disk (a scan of two folders: new models show up at once)."""
    out = catalog.list_models()
    return out if generative is None else [e for e in out if e.generative == generative]


def current_job():
    """The training job this tab shows: its own, else the one running on the server (a reload or a second
    tab re-attaches to it, with its progress and Stop)."""
    from aecore.jobs import BOARD

    mine = BOARD.get(st.session_state.get("job_id"))
    running = BOARD.running()
    if running and (mine is None or mine.finished):
        mine = running[0]
        st.session_state["job_id"] = mine.id
    return mine


@st.cache_resource(show_spinner=False)
def device_name() -> str:
    """Where training runs here: the GPU's name, or the CPU with its thread count; and whether it has fast bf16
    (what precision "auto", the quick presets' setting, uses)."""
    import torch

    from aecore.train import bf16_is_native, pick_device

    device = pick_device("auto")
    bf16 = ", bf16 arithmetic" if bf16_is_native(device) else ""
    if device.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(device)}{bf16})"
    return "Apple GPU (MPS)" if device.type == "mps" else f"CPU ({torch.get_num_threads()} threads{bf16})"


def unusable_models() -> list[ModelEntry]:
    """Checkpoint files in the model folders that cannot be used, each with its one-line reason."""
    return [e for e in catalog.list_models(include_broken=True) if e.error]


def require(entries: list[ModelEntry], what: str = "models") -> None:
    if not entries:
        st.info(f"No {what} yet. Train one on the Train page (a few seconds for a dense model), "
                "or upload a checkpoint there.")
        page_link("pages/1_Train.py")
        st.stop()


def pick_model(label: str, entries: list[ModelEntry], key: str, url: str | None = None) -> ModelEntry:
    """A model picker; with ``url`` the choice is also the URL parameter of that name (``?model=vae``), so a
    copied link opens the same model."""
    names = [e.name for e in entries]
    if url:
        restore_view({url: (key, names)})
    if st.session_state.get(key) not in names:
        st.session_state.pop(key, None)
    name = st.selectbox(label, names, key=key,
                        format_func=lambda n: f"{n} — {next(e.variant for e in entries if e.name == n)}")
    if url:
        st.query_params[url] = name
    return next(e for e in entries if e.name == name)


@st.cache_resource(show_spinner="Loading model…", max_entries=24)
def _load_model(path: str, sha: str):
    return catalog.load(path)


def load_model(entry: ModelEntry):
    """(model, metadata), cached by file content hash."""
    return _load_model(str(entry.path), entry.sha256)


def loadable_models(entries: list[ModelEntry]) -> dict:
    """{name: model} of the entries that load; each one that doesn't gets its own one-line warning."""
    out = {}
    for e in entries:
        try:
            out[e.name] = load_model(e)[0]
        except EXPECTED as err:
            st.warning(f"Skipping {e.name}: {err}")
    return out


def load_or_stop(entry: ModelEntry):
    """(model, test split) for a page's chosen model; a one-line error and the end of the page if either fails."""
    try:
        return load_model(entry)[0], load_data(entry.dataset, "test")
    except EXPECTED as e:
        st.error(f"Can't use {entry.name}: {e}")
    st.stop()


@st.cache_resource(show_spinner="Loading data…")
def load_data(dataset: str = "mnist", split: str = "test"):
    from aecore import data

    return data.load(dataset, split)


def download_dataset(dataset: str) -> None:
    """Fetch a dataset into the data root with a progress bar; afterwards every page uses it."""
    from aecore import data

    bar = st.progress(0.0, text="Connecting…")
    try:
        folder = data.download_dataset(dataset, on_progress=lambda f, message: bar.progress(min(1.0, f), message))
    finally:
        bar.empty()
    load_data.clear()
    data_key.clear()
    st.success(f"Saved in {folder}: every page now uses it.")


@st.cache_resource(show_spinner=False)
def classifier():
    """The reference CNN, or None when assets/classifier.safetensors is absent or unreadable."""
    from aecore.classifier import CLASSIFIER_PATH, load_classifier

    if not CLASSIFIER_PATH.exists():
        return None
    try:
        return load_classifier()
    except Exception:  # noqa: BLE001
        return None


@st.cache_resource(show_spinner=False)
def data_key(dataset: str, split: str = "test") -> str:
    """Dataset name + content fingerprint: part of every disk-cache key."""
    from aecore.projection import data_key as key

    return key(load_data(dataset, split))


@st.cache_resource(show_spinner="Encoding the test split…", max_entries=24)
def _codes(path: str, sha: str, dataset: str):
    from aecore.projection import encodings

    model, _ = _load_model(path, sha)
    return encodings(model, sha, load_data(dataset, "test"), data_key(dataset))


@st.cache_resource(show_spinner="Measuring reconstruction errors…", max_entries=24)
def _errors(path: str, sha: str, dataset: str):
    from aecore.projection import reconstruction_errors

    model, _ = _load_model(path, sha)
    return reconstruction_errors(model, sha, load_data(dataset, "test"), data_key(dataset))


def codes(entry: ModelEntry):
    """Test codes (N, D) of a model: memory, then disk cache, else computed."""
    return _codes(str(entry.path), entry.sha256, entry.dataset)


def errors(entry: ModelEntry):
    """Per-image test reconstruction MSE (N,): memory, shipped or disk cache, else computed."""
    return _errors(str(entry.path), entry.sha256, entry.dataset)


def projection(entry: ModelEntry, method: str, n: int | None = None, compute: bool = True):
    """(projection, test rows) of the model's test codes: shipped or cached on disk, else computed with a
    progress bar. ``n`` maps a fixed random subset of that many test digits (all when None); ``rows`` says which.
    """
    from aecore import projection as proj
    from aecore.compare import sample_indices

    total = len(load_data(entry.dataset, "test"))
    rows = sample_indices(n, total, seed=0).numpy() if n and n < total else None
    dkey = data_key(entry.dataset)
    hit = proj.cached_projection(total if rows is None else len(rows), entry.sha256, dkey, method,
                                 dims=entry.latent_dim)
    if hit is not None or not compute:
        return hit, rows
    z = codes(entry)
    zz = z if rows is None else z[rows]
    bar = st.progress(0.0, text=f"Computing the {proj.METHOD_NAMES[method]} map of {len(zz):,} codes…")
    result = proj.project_codes(zz.numpy(), entry.sha256, dkey, method,
                                on_progress=lambda f, msg: bar.progress(min(1.0, f), text=msg))
    bar.empty()
    return result, rows


@st.cache_resource(show_spinner="Measuring each latent dimension…", max_entries=16)
def _kl(path: str, sha: str, dataset: str):
    from aecore.generate import kl_per_dim

    model, _ = _load_model(path, sha)
    return kl_per_dim(model, load_data(dataset, "test"))


def kl_per_dim(entry: ModelEntry):
    return _kl(str(entry.path), entry.sha256, entry.dataset)


@st.cache_resource(show_spinner="Measuring on 2,000 test digits…", max_entries=32)
def _quick_metrics(path: str, sha: str, dataset: str) -> dict:
    from aecore.metrics import evaluate

    model, _ = _load_model(path, sha)
    return evaluate(model, load_data(dataset, "test").subset(2000, seed=1))


def quick_metrics(entry: ModelEntry) -> dict:
    """Metrics for a checkpoint saved without them (e.g. ``aecore train --fast-eval``), cached."""
    return _quick_metrics(str(entry.path), entry.sha256, entry.dataset)


@st.cache_resource(show_spinner="Scoring the test split and the out-of-distribution sets…", max_entries=24)
def _anomaly(path: str, sha: str, dataset: str, likelihood: bool) -> dict:
    from aecore import anomaly

    # Shipped or cached scores need no model: it is loaded only when scores must be computed.
    return anomaly.evaluate_ood(lambda: _load_model(path, sha)[0], sha, dataset, likelihood=likelihood)


def anomaly_report(entry: ModelEntry) -> dict:
    """Anomaly scores of the test split and each OOD set, with the AUROC table: shipped, cached or computed."""
    return _anomaly(str(entry.path), entry.sha256, entry.dataset, entry.can("has_likelihood"))


def auroc_table(entries: list[ModelEntry]):
    """One row per model, score and OOD set: the AUROC and FPR95 of every entry given."""
    import pandas as pd

    return pd.DataFrame([{"model": e.name, "data": e.dataset, **row} for e in entries
                         for row in anomaly_report(e)["rows"]])


def shipped(dataset: str = "mnist") -> list[ModelEntry]:
    """The pretrained models of one dataset, in registry order."""
    return [e for e in models() if e.source == "pretrained" and e.dataset == dataset]


@st.cache_resource(show_spinner="Drawing the showcase…", max_entries=4)
def _showcase(shas: tuple[str, ...]) -> dict | None:
    from aecore import showcase as show

    entries = [e for e in shipped() if e.sha256 in shas]
    test = load_data("mnist", "test")
    loaded = {e.name: load_model(e)[0] for e in entries}
    i = show.SHOWCASE_DIGIT
    out = {"digit_and_reconstructions": show.reconstructions_of(loaded, test.images[i: i + 1], int(test.labels[i])),
           "reconstruction_names": [e.variant for e in entries]}
    mapped = next(((e, p) for e in entries if (p := projection(e, "umap", compute=False)[0]) is not None), None)
    if mapped:
        out.update(map_png=show.map_png(mapped[1].coords, test.labels.numpy()), map_label=mapped[1].label,
                   map_model=mapped[0].variant)
    dreamer = next((e for e in entries if e.generative and not e.conditional), None)
    if dreamer:
        out.update(samples=show.dreamt(loaded[dreamer.name]), sample_model=dreamer.variant)
    judge = entries[0]
    out.update(strangest=show.strangest(test.images, anomaly_report(judge)["test"]["mse"]), anomaly_model=judge.variant)
    return out


def showcase() -> dict | None:
    """The Home page's pictures, live from the shipped MNIST models (None when none is installed); made once
    per server."""
    entries = shipped()
    return _showcase(tuple(e.sha256 for e in entries)) if entries else None


# -- pictures ---------------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=32)
def map_picture(key: str, _coords, _labels) -> tuple[str, tuple, tuple]:
    """The test digits of a map as one PNG data URI with its data ranges, made once per model and map (``key``)."""
    import figures

    return figures.map_picture(_coords, _labels)


@st.cache_resource(show_spinner=False, max_entries=16)
def _evolution(path: str, sha: str):
    from pathlib import Path

    from aecore import evolution

    return evolution.from_checkpoint(Path(path).read_bytes())


def evolution(entry: ModelEntry):
    """The training evolution a model's checkpoint keeps (aecore.evolution.Evolution), or None without one."""
    return _evolution(str(entry.path), entry.sha256)
