"""Decoding in the browser while the pointer moves (ui/live_views.py, ui/frontend/src/latent.js and generate.js), in
Chromium with real pointer events, read through the components' own marks (window.__latentViews):

- Latent space, on every kind of map (PCA and a 2-D code: the exact inverse; UMAP and t-SNE, of a subset too: the
  neighbour-weighted one; a conditional model told the nearest digit's label): moving the pointer over the Plotly
  map paints the digit decoded there, it changes with the place, and it is what Python's inverse
  (aecore.projection.code_at) and decode give for the same point (mean absolute pixel difference <= 0.01).
- Generate: dragging the interpolation's position or a latent slider decodes on every move with no rerun until
  the pointer lets go, and matches live_views.code_on_path / code_of_sliders decoded by torch.
- The fallback, forced by refusing the runtime's download: one line on each page, and the server decodes (the
  slider's value once let go; the click on the map).

    python -m pytest -m browser tests/test_browser_hover.py
"""

from __future__ import annotations

import re
import time
from urllib.parse import quote, unquote

import numpy as np
import pytest
import torch

from .browser_support import (
    AppServer,
    app_env,
    is_running,
    missing_browser,
    open_page,
    problems,
    settle,
    wait_text,
)
from .conftest import full_data_dir

pytestmark = [pytest.mark.browser]
_why = missing_browser()
if _why:
    pytest.skip(f"browser tests need Playwright and Chromium: {_why}", allow_module_level=True)

MARKS = "() => JSON.parse(JSON.stringify({...window.__latentViews, last: Object.fromEntries(Object.entries(" \
        "window.__latentViews?.last ?? {}).map(([k, v]) => [k, {...v, digit: Array.from(v.digit)}]))}))"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-hover")
    env = app_env(root / "models", root / "cache", AECORE_DATA_DIR=full_data_dir() or root)
    with AppServer(env, root / "server.log", keep_as="server-hover.log") as app:
        app.cache = root / "cache"
        yield app


def marks(page) -> dict:
    return page.evaluate(MARKS) or {}


def wait_status(page, kind: str, timeout: float = 120) -> str:
    """The component's answer: "live" or "off: <why>"."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        status = (marks(page).get("status") or {}).get(kind)
        if status and status != "loading":
            settle(page)  # the answer reran the page once
            return status
        page.wait_for_timeout(100)
    raise TimeoutError(f"the {kind} component neither started nor failed in {timeout:.0f} s")


def wait_painted(page, kind: str, seen: int) -> dict:
    """The last update once the updates have stopped coming (more than ``seen`` of them)."""
    count = -1
    for _ in range(100):
        page.wait_for_timeout(100)
        now = len(marks(page).get(kind, []))
        if now > seen and now == count:
            break
        count = now
    return marks(page)


def plot_area(page):
    return page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()


def hover_path(page, area, frac_from, frac_to, steps: int = 15) -> dict:
    """Move the mouse across the plot area (fractions of its width and height), then the hover's marks."""
    seen = len(marks(page).get("hover", []))
    for k in range(steps + 1):
        t = k / steps
        fx, fy = (a + (b - a) * t for a, b in zip(frac_from, frac_to, strict=True))
        page.mouse.move(area["x"] + area["width"] * fx, area["y"] + area["height"] * fy)
        page.wait_for_timeout(16)
    return wait_painted(page, "hover", seen)


def python_decode(name: str, method: str, n: int, point, monkeypatch, cache) -> np.ndarray:
    """What Python decodes at ``point`` of the page's map: the click's inverse and the model, on the server's data."""
    from aecore import catalog, projection
    from aecore.compare import sample_indices
    from aecore.data import load
    from aecore.metrics import nearest_codes

    monkeypatch.setenv("AECORE_CACHE_DIR", str(cache))  # the server's caches: its codes and computed maps
    entry = next(e for e in catalog.list_models() if e.name == name)
    model, _ = catalog.load(entry.path)
    test = load(entry.dataset, "test")
    rows = sample_indices(n, len(test), seed=0).numpy() if n else np.arange(len(test))
    dkey = projection.data_key(test)
    proj = projection.cached_projection(len(rows), entry.sha256, dkey, method, dims=entry.latent_dim)
    codes = projection.encodings(model, entry.sha256, test, dkey)[rows]
    z = projection.code_at(codes, proj.coords, point)
    nearest = int(nearest_codes(torch.tensor([point], dtype=torch.float32), torch.from_numpy(proj.coords), 1)[0][0, 0])
    with torch.no_grad():
        return model.decode(z[None], model.labels_for(int(test.labels[rows[nearest]]), 1)).numpy().reshape(-1)


@pytest.mark.parametrize("name,method,n", [("dense (pretrained)", "pca", 0), ("cvae (pretrained)", "umap", 0),
                                           ("vae_2d (pretrained)", "umap", 0), ("vae (pretrained)", "tsne", 1000)])
def test_hovering_over_the_map_decodes_the_place_under_the_pointer(server, page, monkeypatch, name, method, n):
    open_page(page, server.url, f"Latent_space?model={quote(name)}&map={method}&points={n}", "Latent space",
              timeout=600)
    assert wait_status(page, "hover") == "live"
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    area = plot_area(page)
    ends = []
    for start, end in (((0.2, 0.3), (0.35, 0.4)), ((0.8, 0.7), (0.65, 0.6))):
        got = hover_path(page, area, start, end)
        last = got["last"]["hover"]
        assert len(got["hover"]) >= 5 and not is_running(page)  # painted as the pointer moves, no rerun
        want = python_decode(name, method, n, (last["x"], last["y"]), monkeypatch, server.cache)
        diff = float(np.abs(np.array(last["digit"]) - want).mean())
        assert diff <= 0.01, (name, method, last["x"], last["y"], diff)
        ends.append(np.array(last["digit"]))
    assert float(np.abs(ends[0] - ends[1]).mean()) > 0.03  # another place, another digit
    caption = page.locator(".ll-hover figcaption").inner_text()
    assert re.fullmatch(r"decoded at \(-?\d+\.\d\d, -?\d+\.\d\d\)", caption), caption
    assert not problems(page)


def drag(page, slider, frac_from: float, frac_to: float, steps: int = 20) -> bool:
    """Drag a range input's thumb with the mouse; True if the page ran its script at any time before the release."""
    box = slider.bounding_box()
    y, ran = box["y"] + box["height"] / 2, False
    page.mouse.move(box["x"] + 8 + (box["width"] - 16) * frac_from, y)
    page.mouse.down()
    for k in range(1, steps + 1):
        page.mouse.move(box["x"] + 8 + (box["width"] - 16) * (frac_from + (frac_to - frac_from) * k / steps), y)
        page.wait_for_timeout(16)
        ran = ran or is_running(page)
    page.wait_for_timeout(300)
    ran = ran or is_running(page)
    page.mouse.up()
    return ran


def vae():
    from aecore import catalog
    from aecore.data import load

    entry = next(e for e in catalog.list_models() if e.name == "vae (pretrained)")
    return catalog.load(entry.path)[0], load("mnist", "test")


def test_dragging_the_interpolation_position_decodes_on_every_move(server, page):
    from latent_lab.ui.live_views import code_on_path

    open_page(page, server.url, f"Generate?model={quote('vae (pretrained)')}&gen_tab=Interpolate", "Generate",
              timeout=300)
    assert wait_status(page, "slide") == "live"
    slider = page.get_by_label("Position along the path")
    slider.scroll_into_view_if_needed()
    seen = len(marks(page)["slide"])
    assert not drag(page, slider, 0.5, 0.05)  # no rerun while the pointer is down
    got = wait_painted(page, "slide", seen + 10)
    last = got["last"]["slide"]
    assert len(got["slide"]) - seen >= 10 and last["value"]["t"] <= 0.1
    model, test = vae()
    with torch.no_grad():
        z0, z1 = model.encode(test.images[0:1])[0], model.encode(test.images[1:2])[0]
        want = model.decode(code_on_path(z0, z1, last["value"]["t"], "linear")[None]).numpy().reshape(-1)
    assert float(np.abs(np.array(last["digit"]) - want).mean()) <= 0.01
    settle(page)  # the release reran the page once
    assert not problems(page)
    page.wait_for_url(re.compile(r"path_t=0\.\d+(&|$)"))  # the position let go is in the link
    t = float(re.search(r"path_t=([\d.]+)", page.url).group(1))
    assert abs(t - last["value"]["t"]) < 0.01


def test_dragging_a_latent_slider_decodes_on_every_move(server, page):
    from latent_lab.ui.live_views import code_of_sliders

    open_page(page, server.url, f"Generate?model={quote('vae (pretrained)')}&gen_tab=Traverse", "Generate",
              timeout=300)
    assert wait_status(page, "slide") == "live"
    sliders = page.locator(".ll-slider input[aria-label^='dim ']")
    dims = [int(re.search(r"\d+", sliders.nth(i).get_attribute("aria-label")).group()) for i in range(sliders.count())]
    sliders.first.scroll_into_view_if_needed()
    seen = len(marks(page)["slide"])
    assert not drag(page, sliders.first, 0.5, 0.95)
    first = wait_painted(page, "slide", seen + 10)["last"]["slide"]
    assert not drag(page, sliders.nth(1), 0.5, 0.1)
    last = wait_painted(page, "slide", seen + 20)["last"]["slide"]
    model, _ = vae()
    code = code_of_sliders(model.latent_dim, dims, last["value"]["values"])
    assert np.allclose(code.numpy(), last["code"], atol=1e-6)
    with torch.no_grad():
        want = model.decode(code[None]).numpy().reshape(-1)
    assert float(np.abs(np.array(last["digit"]) - want).mean()) <= 0.01
    assert float(np.abs(np.array(first["digit"]) - np.array(last["digit"])).mean()) > 0.01
    settle(page)
    assert not problems(page)
    page.wait_for_url(re.compile(r"code=[^&]+"))  # the values let go are in the link: it reopens them
    linked = [float(v) for v in unquote(re.search(r"code=([^&]+)", page.url).group(1)).split(",")]
    assert np.allclose(linked, last["value"]["values"], atol=0.01)


def test_where_the_browser_cannot_decode_the_pages_say_so_and_the_server_does(server, page):
    page.route(re.compile(r".*ort-wasm-simd-threaded\.wasm\.gz.*"), lambda route: route.abort())
    open_page(page, server.url, f"Latent_space?model={quote('dense (pretrained)')}&map=pca", "Latent space",
              timeout=300)
    assert wait_status(page, "hover").startswith("off: ")
    line = wait_text(page, re.compile(r"^Hover decoding is off: .+\. Click the map to decode a place\.$"))
    assert line.is_visible() and page.locator(".ll-hover figure").is_hidden()

    open_page(page, server.url, f"Generate?model={quote('vae (pretrained)')}&gen_tab=Interpolate", "Generate",
              timeout=300)
    assert wait_status(page, "slide").startswith("off: ")
    wait_text(page, re.compile(r"^The server decodes this slider when you let go: this browser cannot \(.+\)\.$"))
    picture = page.get_by_role("img", name=re.compile("decoded at this position")).first
    before = picture.get_attribute("src")
    slider = page.get_by_label("Position along the path")
    slider.scroll_into_view_if_needed()
    drag(page, slider, 0.5, 0.05)
    settle(page)
    after = page.get_by_role("img", name=re.compile("decoded at this position")).first.get_attribute("src")
    assert after != before and not problems(page)
