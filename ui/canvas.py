"""The drawing canvas, read through a bounded path.

``st_canvas`` hands back a result whose ``image_data`` decodes the browser's PNG with no size limit, and that
PNG comes from the network: a scripted client can send a few KB that decode to gigabytes. So this mounts the
component's own frontend (``streamlit_drawable_canvas.out``) with exactly the arguments ``st_canvas`` would
send, and reads the raw data URL through :func:`aecore.preprocess.canvas_from_data_url`, which checks its
size before decoding a pixel.

The canvas keeps its pixels at every width (a stroke maps 1:1 to what the model reads): the column that holds
it never gets narrower than the canvas, and the toolbar the component floats above it gets a band of its own
instead of covering the text there.
"""

from __future__ import annotations

import re

import numpy as np
import streamlit as st

from aecore.preprocess import PreprocessError, canvas_from_data_url


def _ignore() -> None:
    """The component only reports the state keys that have a change callback."""


def _layout_css(key: str, size: int) -> str:
    box = ".st-key-" + re.sub(r"[^\w-]", "-", key)  # Streamlit's class for the element with this key
    # the column is exactly as wide as the canvas; the others share the rest (or wrap below it on a phone)
    return (f"<style>[data-testid=stColumn]:has({box}) {{ flex: 0 0 {size + 4}px; min-width: {size + 4}px; }}"
            f" [data-testid=stHorizontalBlock]:has({box}) > [data-testid=stColumn]:not(:has({box}))"
            f" {{ flex: 1 1 12rem; min-width: 0; }} {box} {{ padding-top: 2.75rem; }}"
            f" @media (max-width: 640px) {{ [data-testid=stColumn]:has({box}) {{ flex: 1 1 100%; }} }}</style>")


def drawing_canvas(key: str, size: int = 280, stroke_width: int = 22) -> np.ndarray | None:
    """A square freedraw canvas, white strokes on black; returns its RGBA array (size, size, 4) uint8, or None
    while nothing has been drawn. Raises PreprocessError (one-line message) if the browser sent a bad value."""
    import streamlit_drawable_canvas as sdc

    st.html(_layout_css(key, size))

    # The payload st_canvas(stroke_width=..., stroke_color="#FFFFFF", background_color="#000000", height=size,
    # width=size, drawing_mode="freedraw", return_image_data=True, key=key) builds; a test checks it still does.
    drawing = {"objects": [], "background": "#000000"}
    data = {
        "fillColor": "#eee",
        "strokeWidth": stroke_width,
        "strokeColor": "#FFFFFF",
        "backgroundColor": "#000000",
        "backgroundImageURL": None,
        "realtimeUpdateStreamlit": True,
        "canvasWidth": size,
        "canvasHeight": size,
        "drawingMode": "freedraw",
        "initialDrawing": drawing,
        "displayRadius": 3,
        "returnImageData": True,
        "disabled": False,
        "backgroundImageFit": "stretch",
        "maxDisplayHeight": None,
        "fontSize": 20,
        "label": "",
    }
    result = sdc.out(data=data, key=key, default={"drawing": {"raw": drawing, "data": None}, "backgroundFit": None},
                     on_drawing_change=_ignore, on_backgroundFit_change=_ignore, width="content", height="content")
    state = result.get("drawing")
    if state is None:
        return None
    if not isinstance(state, dict):
        raise PreprocessError("the canvas sent something that is not a drawing", "not_image")
    url = state.get("data")
    return None if url is None else canvas_from_data_url(url, (size, size))
