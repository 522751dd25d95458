"""ui.canvas: the app's own drawing component, read through the bounded path. The component's browser side is
replaced by a stand-in that records what it is sent and answers a chosen (possibly forged) value."""

import numpy as np
import pytest
from hostile_support import data_url, drawn_rgba, encode, forbid_pixel_decoding, rgba_png_of_zeros

from aecore.preprocess import PreprocessError


@pytest.fixture(scope="module")
def real_mount():
    """The widget in a real script run: the component mounts, its files are served, and nothing drawn is None."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(
        "import streamlit as st\nfrom latent_lab.ui import canvas\n"
        "from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager\n"
        "st.session_state['got'] = repr(canvas.drawing_canvas('k'))\n"
        "st.session_state['root'] = str(get_bidi_component_manager().get_component_asset_root(canvas.COMPONENT))\n",
        default_timeout=60).run()
    return at


def test_the_widget_mounts_in_a_script_run(real_mount):
    from latent_lab.ui.canvas import FRONTEND

    assert not real_mount.exception and real_mount.session_state["got"] == "None"
    assert real_mount.session_state["root"] == str(FRONTEND)  # served from the package, built and committed
    assert {"draw.js", "draw.css", "live.js", "preprocess.js"} <= {p.name for p in FRONTEND.iterdir()}
    assert {"ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm.gz", "LICENSE"} <= \
        {p.name for p in (FRONTEND / "ort").iterdir()}


def mount_with(monkeypatch, value):
    """Stand in for the component's browser side: record what it is sent, answer ``value``."""
    import streamlit as st

    from latent_lab.ui import canvas

    sent = []

    def component(name, **files):
        def mount(**kwargs):
            sent.append({"name": name, **files, **kwargs})
            return value
        return mount

    monkeypatch.setattr(st.components.v2, "component", component)
    monkeypatch.setattr(canvas, "_serve", lambda: None)
    return sent


def test_the_widget_sends_its_size_brush_and_models(monkeypatch):
    from latent_lab.ui import canvas

    sent = mount_with(monkeypatch, {})
    spec = {"name": "dense", "file": "latent-lab.exports/x.onnx.gz", "latent": 64, "conditional": False}
    canvas.sketch("k", stroke_width=30, models=[spec], classifier={"file": "latent-lab.exports/c.onnx.gz"})
    assert canvas.drawing_canvas("k2") is None
    live, plain = sent
    assert live["name"] == canvas.COMPONENT and live["js"] == "draw.js" and live["key"] == "k"
    assert live["data"] == {"size": 280, "brush": 30, "models": [spec],
                            "classifier": {"file": "latent-lab.exports/c.onnx.gz"}, "live": True,
                            "map": None}
    assert plain["data"]["live"] is False  # no models: it only draws (the tour), and loads no runtime
    assert {"on_drawing_change", "on_status_change"} <= set(live)


def test_the_widget_returns_the_drawing(monkeypatch):
    from PIL import Image

    from latent_lab.ui.canvas import drawing_canvas

    a = drawn_rgba()
    mount_with(monkeypatch, {"drawing": data_url(encode(Image.fromarray(a), "PNG")), "status": None})
    assert np.array_equal(drawing_canvas("k"), a)


@pytest.mark.parametrize("value", [{}, {"drawing": None}, {"drawing": None, "status": "live"}])
def test_the_widget_is_none_until_something_is_drawn(monkeypatch, value):
    from latent_lab.ui.canvas import drawing_canvas

    mount_with(monkeypatch, value)
    assert drawing_canvas("k") is None


@pytest.mark.parametrize("status, live, problem", [(None, False, None), ("live", True, None),
                                                   ("off: no WebAssembly", False, "no WebAssembly"),
                                                   (["forged"], False, None), ("x" * 10_000, False, None)])
def test_the_widget_says_whether_the_browser_runs_the_models(monkeypatch, status, live, problem):
    from latent_lab.ui.canvas import sketch

    mount_with(monkeypatch, {"drawing": None, "status": status})
    got = sketch("k", models=[])
    assert (got.live, got.problem) == (live, problem)


HUGE = data_url(rgba_png_of_zeros(13_000, 13_000))  # 676 MB of pixels in under 1 MB of text


@pytest.mark.parametrize("drawing", ["junk", [1, 2], {"data": 7}, 7, HUGE],
                         ids=["string", "list", "dict", "number", "huge-png"])
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_the_widget_refuses_a_forged_value(monkeypatch, drawing):
    from latent_lab.ui.canvas import drawing_canvas

    forbid_pixel_decoding(monkeypatch)
    mount_with(monkeypatch, {"drawing": drawing})
    with pytest.raises(PreprocessError):
        drawing_canvas("k")
