"""Widgets the pages share: model pickers, hyperparameter boxes built from a config dataclass, digit strips,
and the progress of the slow things (a new map, a download)."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import streamlit as st

from aecore import images
from aecore.catalog import ModelEntry
from aecore.config import field_problem, field_specs
from aecore.errors import UserError
from latent_lab.ui import resources as R
from latent_lab.ui.chrome import page_link, presenter
from latent_lab.ui.view import restore_view


def require(entries: list[ModelEntry], what: str = "models") -> None:
    """End the page with a pointer to the Train page when there is nothing to show."""
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
    variants = {e.name: e.variant for e in entries}
    name = st.selectbox(label, names, key=key, format_func=lambda n: f"{n} — {variants[n]}")
    if url:
        st.query_params[url] = name
    return next(e for e in entries if e.name == name)


def loadable_models(entries: list[ModelEntry]) -> dict:
    """{name: model} of the entries that load; each one that doesn't gets its own one-line warning."""
    out = {}
    for e in entries:
        try:
            out[e.name] = R.model(e)
        except UserError as err:
            st.warning(f"Skipping {e.name}: {err}")
    return out


def load_or_stop(entry: ModelEntry):
    """(model, test split) for a page's chosen model; a one-line error and the end of the page if either fails."""
    try:
        return R.model(entry), R.test_data(entry)
    except UserError as e:
        st.error(f"Can't use {entry.name}: {e}")
    st.stop()


def latent_map(entry: ModelEntry, method: str, n: int | None = None, compute: bool = True):
    """(map, test rows) of the model's test codes: shipped or cached on disk, else computed with a progress bar
    (None when ``compute`` is off and there is none). ``n`` maps a fixed random subset of that many test digits
    (all when None); ``rows`` says which."""
    from aecore import projection as proj
    from aecore.compare import sample_indices

    total = len(R.test_data(entry))
    rows = sample_indices(n, total, seed=0).numpy() if n and n < total else None
    hit = R.cached_map(entry, method, rows)
    if hit is not None or not compute:
        return hit, rows
    z = R.codes(entry)
    zz = z if rows is None else z[rows]
    bar = st.progress(0.0, text=f"Computing the {proj.METHOD_NAMES[method]} map of {len(zz):,} codes…")
    result = proj.project_codes(zz.numpy(), entry.sha256, R.data_key(entry.dataset), method,
                                on_progress=lambda f, msg: bar.progress(min(1.0, f), text=msg))
    bar.empty()
    return result, rows


def quick_map(entry: ModelEntry):
    """A map to place things on without waiting: the shipped or cached UMAP, else PCA (never UMAP computed on a
    hot path)."""
    return latent_map(entry, "umap", compute=False)[0] or latent_map(entry, "pca")[0]


def download_dataset(dataset: str) -> None:
    """Fetch a dataset into the data root with a progress bar; afterwards every page uses it."""
    from aecore import data

    bar = st.progress(0.0, text="Connecting…")
    try:
        data.download_dataset(dataset, on_progress=lambda f, message: bar.progress(min(1.0, f), message))
    finally:
        bar.empty()
    R.forget_data()
    st.success("Saved: every page now uses it.")


def config_widgets(config_cls, key: str, defaults: dict | None = None, skip: tuple = (), columns: int = 3) -> dict:
    """One widget per dataclass field, its range in the help text; returns {name: value}.

    Number boxes take any number: a value out of range is refused with a message under its box (and by
    the config's validation), never silently replaced by the previous one."""
    values: dict = {}
    specs = [s for s in field_specs(config_cls) if s["name"] not in skip]
    cols = st.columns(columns)
    for i, s in enumerate(specs):
        name, default = s["name"], (defaults or {}).get(s["name"], s["default"])
        label, wkey = name.replace("_", " "), f"{key}.{name}"
        bounds = [f"{k} {s[k]:g}" for k in ("min", "max") if s[k] is not None]
        helptext = s["help"] + (f" ({', '.join(bounds)})" if bounds else "")
        with cols[i % columns]:
            if s["choices"]:
                if len(s["choices"]) == 1:
                    values[name] = s["choices"][0]
                    continue
                values[name] = st.selectbox(label, list(s["choices"]), index=list(s["choices"]).index(default),
                                            help=helptext, key=wkey)
            elif s["type"] == "bool":
                values[name] = st.checkbox(label, value=bool(default), help=helptext, key=wkey)
            elif s["type"] == "int":
                values[name] = int(st.number_input(label, value=int(default), step=1, help=helptext, key=wkey))
            elif s["type"] == "float":
                values[name] = float(st.number_input(label, value=float(default), help=helptext, key=wkey,
                                                     format="%g",
                                                     step=float(default) / 2 if s["log"] and default else 0.1))
            else:
                values[name] = st.text_input(label, value=str(default), help=helptext, key=wkey)
            problem = field_problem(s, values[name])
            if problem:
                st.error(problem)
    return values


def digits(batch, cols: int | None = None, caption: str | None = None, scale: int = 3,
           download: bool = True, alt: str | None = None) -> None:
    """A batch of digits as one upscaled (nearest-neighbour) image, larger in presenter mode. ``alt`` says what
    it shows to a screen reader (default: how many digits, laid out how, and the caption's words)."""
    picture(images.tile_png(batch, cols=cols, scale=scale + presenter()), caption, download,
            alt or digits_alt(len(images.to_numpy(batch)), cols, caption))


def digits_alt(n: int, cols: int | None = None, caption: str | None = None) -> str:
    """The text alternative of a grid of ``n`` handwritten digits."""
    cols = max(1, min(cols or n, n))
    rows = -(-n // cols)
    what = "a handwritten digit" if n == 1 else (
        f"{n} handwritten digits in a row" if rows == 1 else f"{n} handwritten digits, {rows} rows of {cols}")
    return what + (f": {caption}" if caption else "")


def picture(png: bytes, caption: str | None = None, download: bool = True, alt: str | None = None) -> None:
    """A PNG with its caption, its text alternative (``alt``, what it shows; default the caption) and a small
    button that downloads it (nothing reruns when it is clicked)."""
    st.image(png, caption=caption, alt=alt or caption or "a picture", output_format="PNG")
    if download:
        _download(png, caption)


def gallery(batches: list, captions: list[str], scale: int = 4, alt: str = "") -> None:
    """Several digits side by side, each with its own caption, wrapping onto more rows on a narrow screen
    (a phone, a tablet's column) instead of shrinking; one PNG button downloads them all as one strip."""
    scale += presenter()
    pngs = [images.tile_png(b, scale=scale) for b in batches]
    # one width for all: the captions wrap under their own picture instead of stretching it
    st.image(pngs, caption=captions, alt=[digits_alt(1, 1, c) for c in captions], output_format="PNG",
             width=30 * scale)
    strip = np.concatenate([images.to_numpy(b) for b in batches])
    _download(images.tile_png(strip, scale=scale), alt or "; ".join(captions))


def _download(png: bytes, caption: str | None) -> None:
    name = re.sub(r"[^a-z0-9]+", "-", (caption or "picture").lower()).strip("-")[:60] or "picture"
    st.download_button("PNG", png, file_name=f"{name}.png", mime="image/png", icon=":material/download:",
                       type="tertiary", on_click="ignore", help="download this picture",
                       key=f"png.{hashlib.sha1(png).hexdigest()[:16]}.{name}")


def chart(fig, key: str, alt: str | None = None, container=None, **kwargs):
    """A Plotly chart (in ``container``, default the current place) with its accessible name (``alt``, default
    its title) and, in presenter mode, type that grows with the page's. Returns what ``st.plotly_chart``
    returns (the selection, with ``on_select``). ``alt`` stays the same across reruns: a new one remounts."""
    from latent_lab.ui import figures

    if presenter():
        figures.readable(fig)
    title = fig.layout.title.text if fig.layout.title else None
    return (container or st).plotly_chart(fig, key=key, alt=alt or title or "a chart", **kwargs)


def evolution_map(ev, key: str, replay: bool = True) -> None:
    """A training evolution's map (``aecore.evolution.Evolution``): its latest frame, or with ``replay`` a
    slider over the epochs, the axes fixed so the clusters can be watched forming."""
    from latent_lab.ui import figures

    last = len(ev.frames) - 1
    epoch = st.slider("epoch", 0, last, last, key=key, help="0: the untrained model") if replay and last else last
    chart(figures.evolution_figure(ev.frames[epoch], ev.labels, ev.rows, epoch, ev.limits()), key=f"{key}.map",
          alt="the test digits' codes as a map, one colour per digit, as they stood after this epoch")


def drawing_in_latent_space(entry: ModelEntry, x, label: int | None, star_in_browser: bool) -> None:
    """A drawing ``x`` (1, 1, 28, 28) as ``entry`` sees it: how unusual it is (its anomaly percentile among the
    test digits), its place on the model's quick map as a red star (with a VAE's posterior; unless the canvas
    already moves it in the browser) and its nearest test digits in latent space."""
    import torch

    from aecore import anomaly, ood, projection
    from aecore.metrics import nearest_codes
    from latent_lab.ui import figures

    model, _ = R.load_model(entry)
    labels = None if label is None else torch.tensor([label])
    codes, proj = R.codes(entry), quick_map(entry)  # never a UMAP computed on this hot path
    with torch.no_grad():
        z = model.encode(x, labels)[0]
    report = R.anomaly_report(entry)
    key = anomaly.best_score(report["rows"])
    pct = ood.percentile(anomaly.compute_scores(model, x)[key][0], report["test"][key])
    st.markdown(f"**Anomaly:** to {entry.name}, this drawing is {ood.in_words(pct, entry.dataset)} "
                f"(by {anomaly.SCORE_BY_KEY[key].label}).")
    test = R.load_data(entry.dataset, "test")
    if not star_in_browser:
        where = projection.locate(codes, proj.coords, z)
        picture = R.map_picture(f"{entry.sha256}.{proj.key}", proj.coords, test.labels.numpy())
        posterior = projection.posterior_on_map(model, x, codes, proj.coords, label) \
            if entry.can("has_likelihood") else None
        chart(figures.marker_map(picture, where, title=f"{proj.label} map of the test digits", posterior=posterior),
              key="draw_map", alt=f"{proj.label} map of {entry.name}'s test digits, each digit's group numbered, with "
                                  "the drawing as a red star" + (" and the model's uncertainty around it" if posterior
                                                                 else ""))
    idx, _ = nearest_codes(z[None], codes, 10)
    digits(test.images[idx[0]], caption="nearest test digits in latent space (closest first)")
