"""The drawing canvas: a component of our own (Streamlit Custom Components v2, no iframe), in ``ui/frontend``.

The browser side (``frontend/src``, built into ``frontend/dist`` with the pinned ONNX Runtime Web) draws, and,
when asked, runs the chosen models and the reference classifier in the browser on every animation frame while
the pen moves. Python hears from it once per stroke: the canvas as a PNG data URL, read through
:func:`aecore.preprocess.canvas_from_data_url` (the size is checked before a pixel is decoded), and once when
the browser models start (``live``) or cannot (``off: <why>``).

Streamlit serves a v2 component's files from its ``asset_dir``, found by scanning installed distributions for a
``pyproject.toml``; an editable install (``./run.sh app``) has none to find, so :func:`_serve` registers the
folders itself: the component's ``frontend/dist``, and the folders of the models' ONNX exports
(:mod:`aecore.onnx_export`), which are stored gzipped and handed out as they are (no compression per request).

The canvas keeps its pixels at every width (a stroke maps 1:1 to what the model reads): the column that holds
it never gets narrower than the canvas.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from aecore import onnx_export
from aecore.preprocess import PreprocessError, canvas_from_data_url

PROJECT = "latent-lab"
COMPONENT = f"{PROJECT}.draw"
FRONTEND = Path(__file__).resolve().parent / "frontend" / "dist"


def _roots() -> dict[str, Path]:
    """Served folders by component name: the component's files and the ONNX exports (see aecore.onnx_export)."""
    return {"draw": FRONTEND, "exports": onnx_export.cache_dir(), "shipped-exports": onnx_export.SHIPPED_DIR}


def _serve() -> None:
    """Register the served folders with this server's component manager (once per server and folder)."""
    for name, folder in _roots().items():
        if name == "exports":
            folder.mkdir(parents=True, exist_ok=True)
        serve_folder(name, folder)


def serve_folder(name: str, folder: Path) -> None:
    """Serve ``folder`` as the component ``latent-lab.<name>`` (its files at
    ``/_stcore/bidi-components/latent-lab.<name>/``), unless it already is or does not exist."""
    from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager
    from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest

    from aecore import __version__

    manager = get_bidi_component_manager()
    if not folder.is_dir() or manager.get_component_asset_root(f"{PROJECT}.{name}") == folder.resolve():
        return
    manager.register_from_manifest(
        ComponentManifest(name=PROJECT, version=__version__, components=[ComponentConfig(name, asset_dir=".")]),
        folder)


def served_path(file: str) -> Path:
    """Where the file that :func:`export_file` named is stored."""
    component, name = file.split("?")[0].split("/", 1)
    return _roots()[component.removeprefix(f"{PROJECT}.")] / Path(name).name


def export_file(path: Path) -> str:
    """The name the browser asks the server for: ``<component>/<file>?h=<its content's hash>`` (live.js turns it
    into a URL). The hash makes a rewritten file a new URL, so the browser's Cache API never serves an old copy."""
    shipped = path.parent.resolve() == onnx_export.SHIPPED_DIR.resolve()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"{PROJECT}.{'shipped-exports' if shipped else 'exports'}/{path.name}?h={digest}"


def _layout_css(key: str, size: int) -> str:
    box = ".st-key-" + re.sub(r"[^\w-]", "-", key)  # Streamlit's class for the element with this key
    # the column is at least as wide as the canvas; the others share the rest (or wrap below it on a phone)
    return (f"<style>[data-testid=stColumn]:has({box}) {{ flex: 1 0 {size + 4}px; min-width: {size + 4}px; }}"
            f" [data-testid=stHorizontalBlock]:has({box}) > [data-testid=stColumn]:not(:has({box}))"
            f" {{ flex: 1 1 12rem; min-width: 0; }}"
            f" @media (max-width: 640px) {{ [data-testid=stColumn]:has({box}) {{ flex: 1 1 100%; }} }}</style>")


def _ignore() -> None:
    """The component reports only the state keys that have a change callback."""


class Sketch(NamedTuple):
    rgba: np.ndarray | None  # the drawing (size, size, 4) uint8, or None while nothing is drawn
    status: str | None  # None (no word yet), "live" (the browser runs the models), or "off: <why>"

    @property
    def live(self) -> bool:
        return self.status == "live"

    @property
    def problem(self) -> str | None:
        return self.status[5:] if self.status and self.status.startswith("off: ") else None


def sketch(key: str, size: int = 280, stroke_width: int = 22, models: list[dict] | None = None,
           classifier: dict | None = None, live_map: dict | None = None) -> Sketch:
    """The canvas, running ``models`` (specs from resources.browser_model) and ``classifier`` in the browser when
    given, and moving the drawing's marker on ``live_map`` (resources.browser_map: one of the models' maps).
    Raises PreprocessError (one line) if the browser sent a bad value."""
    import streamlit as st

    _serve()
    st.html(_layout_css(key, size))
    mount = st.components.v2.component(COMPONENT, js="draw.js", css="draw.css")
    data = {"size": size, "brush": stroke_width, "models": models or [], "classifier": classifier,
            "live": bool(models or classifier), "map": live_map}
    result = mount(key=key, data=data, default={"drawing": None, "status": None}, on_drawing_change=_ignore,
                   on_status_change=_ignore, width="stretch", height="content")
    url, status = result.get("drawing"), result.get("status")
    status = status[:300] if isinstance(status, str) else None
    if url is None:
        return Sketch(None, status)
    if not isinstance(url, str):
        raise PreprocessError("the canvas sent something that is not a drawing", "not_image")
    return Sketch(canvas_from_data_url(url, (size, size)), status)


def drawing_canvas(key: str, size: int = 280, stroke_width: int = 22) -> np.ndarray | None:
    """A square canvas, white strokes on black; returns its RGBA array (size, size, 4) uint8, or None while
    nothing has been drawn. Raises PreprocessError (one-line message) if the browser sent a bad value."""
    return sketch(key, size, stroke_width).rgba
