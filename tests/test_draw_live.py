"""The Draw page's two paths (AppTest): the canvas is handed every chosen model's ONNX export and the reference
classifier's, and the map model's latent map (the canvas moves the drawing's marker on it); while the browser runs
them ("live") the server computes only what needs it (the nearest digits, how strange the drawing is), and where
the browser cannot, the page says so in one line and the server reconstructs and places the drawing as before.
The component's browser side is replaced by a stand-in answering a chosen value."""

import hashlib

import numpy as np
import pytest
from app_support import no_errors, run_page

from aecore import onnx_export
from latent_lab.ui import canvas

SEVEN = [(75, 60), (205, 60), (195, 100), (165, 160), (130, 230)]
MODELS = ["dense", "vae", "cvae"]


def seven() -> np.ndarray:
    from PIL import Image, ImageDraw

    im = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(im).line(SEVEN, fill=(255, 255, 255, 255), width=22)
    return np.asarray(im)


@pytest.fixture
def answer(monkeypatch):
    """Make the canvas answer (drawing, status); record the models it was handed."""
    handed = []

    def set_answer(rgba, status):
        def fake(key, size=280, stroke_width=22, models=None, classifier=None, live_map=None):
            handed.append({"models": models, "classifier": classifier, "map": live_map})
            return canvas.Sketch(rgba, status)
        monkeypatch.setattr(canvas, "sketch", fake)
        return handed

    return set_answer


def recon_captions(at) -> list[str]:
    return [c for im in at.image for c in im.captions if ": MSE" in c]


def test_the_canvas_gets_every_chosen_model_to_run_in_the_browser(app_env, answer):
    handed = answer(None, None)
    at = run_page("pages/2_Draw.py", draw_models=MODELS)
    no_errors(at)
    models = {m["name"]: m for m in handed[-1]["models"]}
    assert sorted(models) == sorted(MODELS)
    assert [models[n]["conditional"] for n in MODELS] == [False, False, True] and models["dense"]["latent"] == 16
    for spec in [*models.values(), handed[-1]["classifier"]]:
        stored, digest = canvas.served_path(spec["file"]), spec["file"].split("?h=")[1]
        assert spec["file"].split("/")[0] in ("latent-lab.exports", "latent-lab.shipped-exports")
        assert stored.is_file() and stored.parent.resolve() in {onnx_export.cache_dir().resolve(),
                                                                 onnx_export.SHIPPED_DIR.resolve()}
        assert hashlib.sha256(stored.read_bytes()).hexdigest()[:16] == digest


def test_the_canvas_gets_the_map_models_map_packed_as_python_places_on_it(app_env, answer):
    from aecore import browser_map

    handed = answer(None, None)
    at = run_page("pages/2_Draw.py", draw_models=MODELS, draw_map_model="vae")
    no_errors(at)
    spec = handed[-1]["map"]
    assert spec["model"] == "vae" and spec["posterior"] == "samples"
    packed = browser_map.unpack(onnx_export.unpack(onnx_export.cache_dir() / spec["file"].split("/")[1].split("?")[0]))
    latent = {m["name"]: m["latent"] for m in handed[-1]["models"]}["vae"]
    assert packed["samples"] == 40 and packed["dim"] == latent and packed["png_bytes"][:4] == b"\x89PNG"
    assert packed["n"] == len(packed["coords"]) == len(packed["codes"])


def test_while_the_browser_runs_them_the_server_only_places_the_drawing(app_env, answer):
    answer(seven(), "live")
    at = run_page("pages/2_Draw.py", draw_models=MODELS, draw_map_model="vae")
    no_errors(at)
    assert recon_captions(at) == []  # the canvas paints them
    assert not any("Reference classifier" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 0  # the canvas moves the marker on its own map
    assert any("stranger" in m.value or "Anomaly" in m.value for m in at.markdown)
    assert any("nearest test digits" in c for im in at.image for c in im.captions)
    assert at.session_state["drawn_digit"].shape == (28, 28)


def test_where_the_browser_cannot_the_page_says_so_and_the_server_answers(app_env, answer):
    answer(seven(), "off: this browser's WebAssembly has no SIMD")
    at = run_page("pages/2_Draw.py", draw_models=MODELS, draw_map_model="vae")
    no_errors(at)
    lines = [c.value for c in at.caption if "run on the server" in c.value]
    assert lines == ["The models run on the server: this browser cannot run them (this browser's WebAssembly "
                     "has no SIMD)."]
    assert sorted(c.split(":")[0] for c in recon_captions(at)) == sorted(MODELS)
    assert any("Reference classifier" in m.value for m in at.markdown)


def test_an_upload_is_answered_by_the_server_even_while_the_canvas_is_live(app_env, answer):
    from app_support import png_of_one

    answer(None, "live")
    at = run_page("pages/2_Draw.py", draw_models=MODELS, draw_map_model="vae")
    at.file_uploader(key="draw_upload").set_value(("one.png", png_of_one(), "image/png")).run()
    no_errors(at)
    assert sorted(c.split(":")[0] for c in recon_captions(at)) == sorted(MODELS)
