"""The models in the browser (ui/frontend), in Chromium: real pointer strokes, read through the component's own
marks (window.__latentLab, data-status on the canvas).

- While the pen moves, every chosen model's reconstruction and the classifier's guess are painted, before the
  pen lifts (so before Python hears anything).
- One preprocessing: the browser's copy of aecore.preprocess makes the same 28x28 digit from the 500 canvas
  drawings of tests/data/drawings.npz (mean absolute pixel difference <= 0.01), and the classifier, run in
  the browser on its digits, answers as torch does on aecore's, on every one.
- The fallback, forced by refusing the runtime's download: the page says so in one line and the server answers.

    python -m pytest -m browser tests/test_browser_live.py
"""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
import torch

from .browser_support import (
    SEVEN,
    AppServer,
    app_env,
    canvas,
    chosen,
    live_marks,
    live_status,
    missing_browser,
    open_page,
    problems,
    settle,
    stroke,
    wait_text,
)
from .conftest import full_data_dir

pytestmark = [pytest.mark.browser]
_why = missing_browser()
if _why:
    pytest.skip(f"browser tests need Playwright and Chromium: {_why}", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-live")
    full = full_data_dir()
    env = app_env(root / "models", root / "cache", AECORE_DATA_DIR=full or root)
    with AppServer(env, root / "server.log", keep_as="server-live.log") as app:
        yield app


def test_every_model_answers_while_the_pen_moves(server, page):
    open_page(page, server.url, "Draw", "Draw", timeout=180)
    assert live_status(page) == "live"
    box = canvas(page).bounding_box()
    page.mouse.move(box["x"] + SEVEN[0][0], box["y"] + SEVEN[0][1])
    page.mouse.down()
    for a, b in zip(SEVEN, SEVEN[1:], strict=False):
        for k in range(1, 13):
            page.mouse.move(box["x"] + a[0] + (b[0] - a[0]) * k / 12, box["y"] + a[1] + (b[1] - a[1]) * k / 12)
            page.wait_for_timeout(16)  # a hand moves over several frames
    marks = live_marks(page)  # the pen is still down: Python has heard nothing yet
    shown = [u for u in marks["updates"] if u["shown"]]
    assert len(shown) >= 10, marks["updates"][-5:]
    assert marks["guess"] == 7
    recon = page.locator(".ll-recons figcaption").all_inner_texts()
    assert sorted(c.split(": MSE ")[0] for c in recon) == sorted(chosen(page, "Models"))
    assert all(re.search(r": MSE \d\.\d{4}$", c) for c in recon), recon
    page.mouse.up()
    wait_text(page, "nearest test digits in latent space")  # the server's part, once the pen lifts
    settle(page)
    assert not problems(page)


def test_undo_and_clear_act_on_the_drawing(server, page):
    open_page(page, server.url, "Draw", "Draw", timeout=180)
    live_status(page)
    stroke(page, SEVEN)
    wait_text(page, "nearest test digits in latent space")
    page.get_by_role("button", name="Undo", exact=True).click()
    wait_text(page, "Draw a digit on the black canvas")
    stroke(page, SEVEN)
    wait_text(page, "nearest test digits in latent space")
    page.get_by_role("button", name="Clear", exact=True).click()
    wait_text(page, "Draw a digit on the black canvas")
    settle(page)
    assert not problems(page)


def canvas_drawings():
    """(PNG bytes of each canvas drawing's grey levels, aecore's 28x28 digit of it) for the fixture set."""
    import io

    from PIL import Image

    from aecore import preprocess

    from .drawings import raw_inputs

    pngs, digits = [], []
    for _, _, how, rgba in raw_inputs():
        if how == "canvas":
            buf = io.BytesIO()
            Image.fromarray(rgba[..., 0], "L").save(buf, "PNG")
            pngs.append(base64.b64encode(buf.getvalue()).decode())
            digits.append(preprocess.from_canvas(rgba))
    return pngs, np.stack(digits)


PARITY_JS = """async ([base, pngs, classifier]) => {
  const pre = await import(base + "/preprocess.js");
  const live = await import(base + "/live.js");
  const sess = await live.session(classifier);
  const ort = await live.ort();
  const out = [];
  for (const b64 of pngs) {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], {type: "image/png"}),
                                           {colorSpaceConversion: "none", premultiplyAlpha: "none"});
    const c = new OffscreenCanvas(bitmap.width, bitmap.height), ctx = c.getContext("2d");
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, c.width, c.height).data;
    const digit = pre.digitFromCanvas(rgba, c.width, c.height);
    const probs = (await sess.run({image: new ort.Tensor("float32", digit, [1, 1, 28, 28])})).probabilities.data;
    out.push({digit: Array.from(digit), guess: probs.indexOf(Math.max(...probs))});
  }
  return out;
}"""


def test_the_browser_preprocesses_and_classifies_as_aecore_does(server, page):
    from aecore.classifier import load_classifier

    open_page(page, server.url, "Draw", "Draw", timeout=180)
    assert live_status(page) == "live"
    base = f"{server.url}/_stcore/bidi-components/latent-lab.draw"
    classifier = _classifier_file()
    pngs, want = canvas_drawings()
    got = []
    for i in range(0, len(pngs), 100):
        got += page.evaluate(PARITY_JS, [base, pngs[i: i + 100], classifier])
    digits = np.array([g["digit"] for g in got], dtype=np.float32).reshape(want.shape)
    diff = np.abs(digits - want).mean(axis=(1, 2))
    assert len(got) == 500 and float(diff.mean()) <= 0.01 and float(diff.max()) <= 0.05, (diff.mean(), diff.max())
    torch_guess = load_classifier().probabilities(torch.from_numpy(want)[:, None]).argmax(1).numpy()
    assert [g["guess"] for g in got] == torch_guess.tolist()


def _classifier_file() -> str:
    """The classifier's export as the Draw page hands it to the canvas (the served name live.js fetches)."""
    from aecore import onnx_export
    from aecore.catalog import file_sha256
    from aecore.classifier import CLASSIFIER_PATH
    from latent_lab.ui.canvas import export_file

    found = onnx_export.find(file_sha256(CLASSIFIER_PATH))  # shipped, else made by the server in its cache
    return export_file(found) if found else f"latent-lab.exports/{onnx_export.file_name(file_sha256(CLASSIFIER_PATH))}"


def test_where_the_browser_cannot_run_them_the_page_says_so_and_the_server_answers(server, page):
    page.route(re.compile(r".*ort-wasm-simd-threaded\.wasm\.gz.*"), lambda route: route.abort())
    open_page(page, server.url, "Draw", "Draw", timeout=180)
    assert live_status(page) == "off"
    line = wait_text(page, re.compile(r"^The models run on the server: this browser cannot run them \(.+\)\.$"))
    assert line.is_visible()
    stroke(page, SEVEN)
    wait_text(page, "nearest test digits in latent space")
    settle(page)
    recon = page.eval_on_selector_all("[data-testid=stImageCaption]", "els => els.map(e => e.innerText)")
    assert sorted(c.split(": MSE ")[0] for c in recon if ": MSE " in c) == sorted(chosen(page, "Models"))
    assert page.locator(".ll-live").is_hidden() and not problems(page)


def _pen(page, points, every_ms: int = 16):
    """Pen down and a hand's moves through ``points`` (canvas pixels), one every ``every_ms``; the pen stays down."""
    box = canvas(page).bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for a, b in zip(points, points[1:], strict=False):
        for k in range(1, 13):
            page.mouse.move(box["x"] + a[0] + (b[0] - a[0]) * k / 12, box["y"] + a[1] + (b[1] - a[1]) * k / 12)
            page.wait_for_timeout(every_ms)


def test_the_marker_and_the_posterior_move_on_the_map_as_python_places_them(server, page):
    """While the pen moves the canvas paints the map model's map with the drawing's star and a VAE's posterior
    samples; the browser's places match aecore.projection's (locate, posterior_on_map) for the browser's own
    28x28 input, on a few drawings. The files come as stored (gzip, no second compression), and a second visit
    downloads none of them again (the Cache API, on localhost)."""
    import gzip
    import urllib.request

    from aecore import browser_map, checkpoint, projection
    from aecore.pretrain import MODELS_DIR

    open_page(page, server.url, "Draw", "Draw", timeout=180)
    assert live_status(page) == "live"
    packed = None
    for points in (SEVEN, [(60, 60), (200, 70), (140, 240)], [(140, 40), (140, 240)]):
        page.get_by_role("button", name="Clear", exact=True).click()
        page.wait_for_timeout(300)
        seen = len(live_marks(page)["updates"])
        _pen(page, points)
        page.wait_for_timeout(300)
        marks = live_marks(page)
        mapped = [u for u in marks["updates"][seen:] if u.get("mapped")]
        assert len(mapped) >= 5 and marks["map"], marks["updates"][-3:]  # the pen is still down
        assert page.locator(".ll-map canvas").is_visible()
        digit = torch.tensor(page.evaluate("() => Array.from(window.__latentLab.digit)")).reshape(1, 1, 28, 28)
        name = marks["map"]["model"]
        model, _ = checkpoint.load(MODELS_DIR / f"{name.split(' (')[0]}.safetensors")  # "vae (pretrained)"
        model.eval()
        if packed is None:
            url = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)"
                                ".find(u => u.includes('/map-'))")
            req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
            with urllib.request.urlopen(req) as r:
                body, encoding = r.read(), r.headers.get("Content-Encoding")
            assert encoding is None and body[:2] == b"\x1f\x8b"  # the gzip file itself, sent as it is stored
            packed = browser_map.unpack(gzip.decompress(body))
        codes, coords = torch.from_numpy(packed["codes"]), packed["coords"]
        span = float(np.ptp(coords, axis=0).max())
        with torch.no_grad():
            mu = model.encode_distribution(digit)[0][0]
        want = projection.locate(codes, coords, mu)
        assert np.abs(np.array(marks["map"]["where"]) - want).max() <= 0.01 * span, (marks["map"]["where"], want)
        samples = projection.posterior_on_map(model, digit, codes, coords)["samples"]
        gap = np.linalg.norm(np.array(marks["map"]["samples"]) - samples, axis=1)
        # The browser's model is the compact form (int8/float16 weights): a sample near a neighbourhood's edge
        # may land by the next group of points on a UMAP map, so nearly all, not every one, match closely.
        assert np.median(gap) <= 0.01 * span and np.mean(gap <= 0.1 * span) >= 0.9, (np.median(gap), gap.max())
        page.mouse.up()
    settle(page)
    assert not problems(page)
    again = page.context.new_page()
    fetched = []
    again.on("requestfinished", lambda r: fetched.append(r.url))
    open_page(again, server.url, "Draw", "Draw", timeout=180)
    assert live_status(again) == "live"
    again.wait_for_timeout(1000)
    assert not [u for u in fetched if ".gz" in u], fetched
