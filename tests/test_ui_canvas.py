"""ui.canvas.drawing_canvas: the app's drawing canvas, read through the bounded path. The component's frontend is
replaced by a stand-in that records what it is sent and answers a chosen (possibly forged) value."""

import numpy as np
import pytest
from hostile_support import data_url, drawn_rgba, encode, forbid_pixel_decoding, rgba_png_of_zeros

from aecore.preprocess import PreprocessError


@pytest.fixture(scope="module")
def real_mount():
    """The widget in a real script run: the component mounts with these arguments, and nothing drawn is None.
    (The component module registers its frontend on import, which needs a Streamlit runtime: this imports it.)"""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string("import streamlit as st\nfrom latent_lab.ui.canvas import drawing_canvas\n"
                             "st.session_state['got'] = repr(drawing_canvas('k'))\n", default_timeout=60).run()
    return at


def test_the_widget_mounts_in_a_script_run(real_mount):
    assert not real_mount.exception and real_mount.session_state["got"] == "None"


def mount_with(monkeypatch, value):
    """Stand in for the component's frontend: record what it is sent, answer ``value``. Tests that use it take
    the real_mount fixture, which imports the component module."""
    import streamlit_drawable_canvas as sdc

    sent = []

    def out(**kwargs):
        sent.append(kwargs)
        return value

    monkeypatch.setattr(sdc, "out", out)
    return sent


def test_the_widget_sends_what_st_canvas_sends(real_mount, monkeypatch):
    """The browser side sees exactly today's canvas: the same payload as the two st_canvas calls it replaces."""
    from streamlit_drawable_canvas import st_canvas

    from latent_lab.ui.canvas import drawing_canvas

    sent = mount_with(monkeypatch, {})
    st_canvas(stroke_width=30, stroke_color="#FFFFFF", background_color="#000000", height=280, width=280,
              drawing_mode="freedraw", return_image_data=True, key="canvas3")
    assert drawing_canvas("canvas3", stroke_width=30) is None
    theirs, ours = sent
    assert {k: v for k, v in theirs.items() if not callable(v)} == {k: v for k, v in ours.items() if not callable(v)}
    assert {k for k, v in theirs.items() if callable(v)} == {k for k, v in ours.items() if callable(v)}


def test_the_widget_returns_the_drawing(real_mount, monkeypatch):
    from PIL import Image

    from latent_lab.ui.canvas import drawing_canvas

    a = drawn_rgba()
    mount_with(monkeypatch, {"drawing": {"raw": {"objects": []}, "data": data_url(encode(Image.fromarray(a), "PNG"))}})
    assert np.array_equal(drawing_canvas("k"), a)


@pytest.mark.parametrize("value", [{}, {"drawing": None}, {"drawing": {"raw": {}, "data": None}}])
def test_the_widget_is_none_until_something_is_drawn(real_mount, monkeypatch, value):
    from latent_lab.ui.canvas import drawing_canvas

    mount_with(monkeypatch, value)
    assert drawing_canvas("k") is None


HUGE = data_url(rgba_png_of_zeros(13_000, 13_000))  # 676 MB of pixels in under 1 MB of text


@pytest.mark.parametrize("drawing", ["junk", [1, 2], {"data": 7}, {"data": HUGE}],
                         ids=["string", "list", "number", "huge-png"])
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_the_widget_refuses_a_forged_value(real_mount, monkeypatch, drawing):
    from latent_lab.ui.canvas import drawing_canvas

    forbid_pixel_decoding(monkeypatch)

    mount_with(monkeypatch, {"drawing": drawing})
    with pytest.raises(PreprocessError):
        drawing_canvas("k")
