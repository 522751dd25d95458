"""Decoding in the browser while the pointer moves: hover over a latent map (Latent space page) and drag a latent
slider or a position along an interpolation (Generate page). Two Custom Components v2 (no iframe) of our own in
``ui/frontend/src``: ``latent.js`` listens to the pointer over the page's Plotly map and ``generate.js`` draws
its own range inputs; both run the model's decode graph (:mod:`aecore.onnx_export`) with the runtime the drawing
canvas loads (``live.js``, shared: one runtime per page) and paint the decoded digit beside the control.

Python hears from them only when the browser models start or cannot (state ``status``: "live" or "off: <why>")
and when a slider is let go (state ``value``): no rerun while the pointer moves. Where the browser cannot run
them the server path stays: a click on the map decodes there, and a slider's value, once let go, is decoded by
the server (:func:`code_on_path`, :func:`code_of_sliders`, the same codes the browser makes). The value let go
goes into the URL (``path_t``, ``code``), so a copied link reopens the sliders where they were.

The map's points, codes and labels reach the browser as one binary file (:mod:`aecore.browser_map`), named by
its content and served from the exports' cache folder, never as JSON through the component's data.
"""

from __future__ import annotations

import re

import numpy as np
import streamlit as st
import torch

from aecore import browser_map, onnx_export
from aecore import generate as G
from aecore.catalog import ModelEntry
from latent_lab.ui import canvas, resources, view, widgets

HOVER, SLIDERS = f"{canvas.PROJECT}.hover", f"{canvas.PROJECT}.sliders"


def _serve() -> None:
    canvas._serve()  # the runtime, the exports and the maps (live.js is imported from the drawing component's folder)
    canvas.serve_folder("hover", canvas.FRONTEND)
    canvas.serve_folder("sliders", canvas.FRONTEND)


def key_class(key: str) -> str:
    """Streamlit's class for the element with this key."""
    return "st-key-" + re.sub(r"[^\w-]", "-", key)


@st.cache_resource(show_spinner=False, max_entries=32)
def _map_file(key: str, _coords, _codes, _labels) -> str | None:
    """The served name of a map's binary file (made once per server and map ``key``), or None when the cache
    folder cannot be written."""
    try:
        packed = browser_map.pack(_coords, _codes, _labels)
        return canvas.export_file(browser_map.write(packed, onnx_export.cache_dir()))
    except (OSError, ValueError):
        return None


def _ignore() -> None:
    """The component reports only the state keys that have a change callback."""


def _problem(status) -> str | None:
    return status[5:300] if isinstance(status, str) and status.startswith("off: ") else None


def hover_decoder(entry: ModelEntry, map_key: str, coords, codes, labels, chart_key: str) -> str | None:
    """The panel beside a latent map (the Plotly chart with key ``chart_key``) that shows the digit decoded at the
    place under the pointer, computed in the browser. Returns None while it works (or has not said), else why not
    (one line): the click on the map is then the way to decode."""
    spec = resources.browser_model(entry)
    file = resources.served(_map_file, map_key, coords, np.asarray(codes), np.asarray(labels))
    if spec is None or file is None:
        return "this model cannot be prepared for the browser here" if spec is None else \
            "the map cannot be written to the cache folder"
    _serve()
    mount = st.components.v2.component(HOVER, js="latent.js", css="views.css")
    result = mount(key=f"hover.{chart_key}", data={"model": spec, "map": file, "chart": key_class(chart_key)},
                   default={"status": None}, on_status_change=_ignore, width="stretch", height="content")
    return _problem(result.get("status"))


def code_on_path(z0: torch.Tensor, z1: torch.Tensor, t: float, mode: str) -> torch.Tensor:
    """The code at position ``t`` of the path between two codes (what the browser computes): (D,)."""
    return (G.slerp if mode == "slerp" else G.lerp)(z0, z1, torch.tensor([float(t)]))[0]


def code_of_sliders(latent_dim: int, dims: list[int], values: list[float]) -> torch.Tensor:
    """The code the latent sliders set: ``values`` on ``dims``, 0 (the prior's mean) elsewhere: (D,)."""
    z = torch.zeros(latent_dim)
    z[torch.tensor(dims, dtype=torch.long)] = torch.tensor(values, dtype=torch.float32)
    return z


def _sliders(entry: ModelEntry, model, key: str, param: str, data: dict, default: dict, clean, code, label) -> dict:
    """Mount a slider component; while the browser cannot decode, the server decodes the value let go. Every value
    (the browser's, a shared link's) goes through ``clean`` (to range); the value let go lives in the URL's
    ``param``, so a copied link reopens it."""
    spec = resources.browser_model(entry)
    _serve()
    mount = st.components.v2.component(SLIDERS, js="generate.js", css="views.css")
    (name, like), = default.items()
    try:  # the value last let go seeds the inputs when they are made again (e.g. back on this page)
        seed = st.session_state[key]["value"]
    except (KeyError, TypeError):  # else a shared link's, once per session
        linked = view.link_numbers(param)
        seed = {name: linked if isinstance(like, list) else linked[0]} if linked else None
    seed = clean(seed if isinstance(seed, dict) else default)
    result = mount(key=key, data={**data, "model": spec, "value": seed},
                   default={"status": None, "value": seed}, on_status_change=_ignore, on_value_change=_ignore,
                   width="stretch", height="content")
    value = clean(result.get("value")) if isinstance(result.get("value"), dict) else seed
    if value != clean(default) or param in st.query_params:
        view.share_numbers(param, value[name] if isinstance(like, list) else [value[name]])
    status = result.get("status") if spec else "off: this model cannot be prepared for the browser here"
    if status != "live":
        why = _problem(status)
        if why:
            st.caption(f"The server decodes this slider when you let go: this browser cannot ({why}).")
        with torch.no_grad():
            widgets.digits(model.decode(code(value)[None], model.labels_for(label(value), 1)), scale=5,
                           caption=data.get("caption", "decoded"))
    return value


def path_slider(entry: ModelEntry, model, x0, x1, mode: str, labels: tuple[int, int], key: str) -> float:
    """A position along the path between two digits' codes, decoded at every move; returns the position let go
    (in the URL as ``path_t``)."""
    with torch.no_grad():
        z0, z1 = (model.encode(x.view(1, 1, 28, 28), model.labels_for(y, 1))[0] for x, y in zip((x0, x1), labels,
                                                                                                  strict=True))
    value = _sliders(entry, model, key, "path_t", {"kind": "path", "z0": z0.tolist(), "z1": z1.tolist(),
                                                   "mode": mode, "labels": list(labels),
                                                   "caption": "decoded at this position"},
                     {"t": 0.5}, lambda v: {"t": _clip(v.get("t"), 0, 1)},
                     lambda v: code_on_path(z0, z1, v["t"], mode), lambda v: labels[0] if v["t"] < 0.5 else labels[1])
    return value["t"]


def latent_sliders(entry: ModelEntry, model, dims: list[int], names: list[str], span: float, label, key: str):
    """One slider per code dimension in ``dims`` (the others at 0), decoded at every move; returns the values let
    go (in the URL as ``code``)."""
    def values(v) -> list[float]:
        got = v.get("values") if isinstance(v.get("values"), list) else []
        return [_clip(got[i] if i < len(got) else 0.0, -span, span) for i in range(len(dims))]

    value = _sliders(entry, model, key, "code", {"kind": "latent", "dims": dims, "names": names, "span": span,
                                                 "latent": entry.latent_dim, "label": label,
                                                 "caption": "decoded from these values"},
                     {"values": [0.0] * len(dims)}, lambda v: {"values": values(v)},
                     lambda v: code_of_sliders(entry.latent_dim, dims, v["values"]), lambda v: label)
    return value["values"]


def _clip(v, lo: float, hi: float) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return (lo + hi) / 2
    return min(hi, max(lo, v)) if np.isfinite(v) else (lo + hi) / 2
