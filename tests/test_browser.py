"""The real app in Chromium (Playwright): every page loads cleanly (screenshots in docs/screenshots and
test-artifacts/browser), a digit drawn with the mouse is reconstructed, a box selection on the latent map
shows the selected digits, and a model trained on the Train page appears on the Draw page.

One Streamlit server for the module, with its own model folder and caches. A tiny dense model is always
trained first (about 5 s), so the pages have a model whether or not the pretrained checkpoints are installed.
Skipped only where the playwright package or Chromium (/usr/bin/chromium, or $CHROMIUM_PATH) is missing.

    python -m pytest -m browser tests/test_browser.py
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from .browser_support import (
    ARTIFACTS,
    ONE,
    PAGES,
    SEVEN,
    VIEWPORT,
    AppServer,
    app_env,
    box_select,
    captions,
    choose,
    chosen,
    live_status,
    missing_browser,
    open_page,
    pretrained_models,
    problems,
    screenshot,
    set_number,
    settle,
    slide,
    stroke,
    trace_mean,
    trace_names,
    train_cli,
    wait_caption,
    wait_text,
)
from .conftest import full_data_dir

pytestmark = [pytest.mark.browser]
_why = missing_browser()
if _why:
    pytest.skip(f"browser tests need Playwright and Chromium: {_why}", allow_module_level=True)

TINY = "dense-tiny"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-app")
    env = app_env(root / "models", root / "cache")
    if not os.environ.get("AECORE_DATA_DIR"):
        # Like CI: the full MNIST when it lies beside the checkout, else the bundled sample.
        full = full_data_dir()
        env["AECORE_DATA_DIR"] = str(full) if full else str(root / "no-data")
        (root / "no-data").mkdir(exist_ok=True)
    train_cli("dense", root / "models" / f"{TINY}.safetensors", env)
    with AppServer(env, root / "server.log", keep_as="server.log") as app:
        yield app


def assert_clean(page, where: str) -> None:
    assert not problems(page), f"{where}: {problems(page)}"


@pytest.mark.parametrize(("path", "name", "title"), PAGES, ids=[n for _, n, _ in PAGES])
def test_page_loads_without_errors(server, page, path, name, title):
    # The Latent space page may compute a 10,000-point UMAP here (numba compiles on first use) when the
    # first model has no shipped projection: allow for it.
    open_page(page, server.url, path, title, timeout=180)
    assert_clean(page, name)
    main = page.locator("[data-testid=stMain]").inner_text()
    assert title in main
    # Every page has the app's own menu with a link to every page (paths derived from the file names).
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => new URL(e.href).pathname)")
    for other, _, _ in PAGES[1:]:
        assert f"/{other}" in hrefs, f"{name}: no link to /{other} in {sorted(set(hrefs))}"
    if name == "home":
        assert "Models" in main and "MNIST test split" in main
        assert re.search(r"\d+ pretrained, [1-9]\d* yours", main), main  # the table is a canvas: count
    if name == "latent_space":
        page.locator("[data-testid=stPlotlyChart]").first.wait_for()
    screenshot(page, name)


def test_draw_a_digit_shows_reconstructions(server, page):
    """The models run in the browser (ui/frontend): the canvas shows the input, the guess and one reconstruction
    per chosen model; the server adds the map and the nearest digits when the pen lifts."""
    open_page(page, server.url, "Draw", "Draw")
    assert "Draw a digit" in page.locator("[data-testid=stMain]").inner_text()
    assert live_status(page) == "live"
    stroke(page, SEVEN)
    wait_text(page, "28×28 model input")
    wait_text(page, "nearest test digits in latent space")
    settle(page)
    assert_clean(page, "Draw after a stroke")
    recon = page.locator(".ll-recons figcaption").all_inner_texts()
    assert sorted(c.split(": MSE ")[0] for c in recon) == sorted(chosen(page, "Models"))  # one per model
    assert all(re.search(r": MSE \d+\.\d{4}$", c) for c in recon), recon
    assert re.match(r"Reference classifier: \d \(\d+% sure\)$", page.locator(".ll-guess").inner_text())
    images = page.locator("[data-testid=stImage] img")
    assert images.count() >= 1  # the nearest digits
    assert all(images.nth(i).evaluate("e => e.complete && e.naturalWidth > 0") for i in range(images.count()))
    # The canvas places the digit on the map model's map itself; the server draws no second copy.
    assert page.locator(".ll-map canvas").is_visible()
    assert page.locator("[data-testid=stPlotlyChart]").count() == 0
    screenshot(page, "draw-reconstructions")


def test_the_whole_canvas_takes_ink(server, page):
    """A stroke along the canvas's right edge counts: the canvas is not clipped by its column."""
    open_page(page, server.url, "Draw", "Draw")
    stroke(page, [(262, 40), (266, 150), (270, 250)])
    wait_text(page, "28×28 model input")
    assert_clean(page, "Draw after a stroke at the right edge")


def test_box_select_on_the_latent_map_shows_the_digits(server, page):
    open_page(page, server.url, "Latent_space", "Latent space", timeout=180)
    assert "Select digits on the map" in page.locator("[data-testid=stMain]").inner_text()
    box_select(page, page.locator("[data-testid=stPlotlyChart]").first)  # the middle half: many digits on any map
    summary = wait_text(page, re.compile(r"^\d+ digits selected|^Test digit #\d+"))
    settle(page)
    assert_clean(page, "Latent space after a box selection")
    text = summary.inner_text()
    n = int(re.match(r"(\d+)", text).group(1)) if "selected" in text else 1
    assert n >= 1
    labels = re.search(r"\(labels: ([^)]*)\)", text)
    if labels:  # "0×325, 2×26, ..." adds up to the count
        assert sum(int(c) for c in re.findall(r"×(\d+)", labels.group(1))) == n
        assert "selected digits" in captions(page) and "their reconstructions" in captions(page)
    screenshot(page, "latent_space-selection")


def test_a_model_trained_on_the_train_page_appears_on_the_draw_page(server, page):
    open_page(page, server.url, "Train", "Train")
    choose(page, "Variant", "dense")
    set_number(page, "epochs", 1)
    set_number(page, "train size", 1000)
    assert page.get_by_label("epochs", exact=True).input_value() == "1"
    assert page.get_by_label("train size", exact=True).input_value() == "1000"
    t0 = time.perf_counter()
    page.get_by_role("button", name="Start training").click()
    done = page.locator("[data-testid=stAlertContentSuccess]").filter(has_text="saved as")
    done.wait_for(timeout=120_000)
    settle(page, timeout=60)
    assert_clean(page, "Train after a run")
    saved = re.search(r"saved as (\S+)\.safetensors", done.inner_text()).group(1)
    assert saved.startswith("dense-"), saved
    assert time.perf_counter() - t0 < 120
    screenshot(page, "train-finished")

    # A new session on the Draw page: the new model is offered and reconstructs the drawing.
    open_page(page, server.url, "Draw", "Draw")
    stroke(page, ONE)
    wait_text(page, "28×28 model input")
    settle(page)
    if saved not in chosen(page, "Models"):  # not among the first six by default: pick it
        page.locator("[data-testid=stMultiSelect]").filter(has_text="Models").locator("input").first.click()
        page.get_by_role("option", name=saved, exact=True).click()
        page.keyboard.press("Escape")
        settle(page)
    wait_text(page, re.compile(rf"^{re.escape(saved)}: MSE \d"))
    settle(page)
    assert_clean(page, "Draw with the new model")
    screenshot(page, "draw-new-model")


def test_home_shows_its_pictures_above_the_fold(server, page):
    """At 1280×800 the four showcase pictures (live from the shipped models) are on screen without scrolling."""
    if not any(p.suffix == ".safetensors" for p in pretrained_models()):
        pytest.skip("the showcase needs the pretrained models")
    page.set_viewport_size({"width": 1280, "height": 800})
    open_page(page, server.url, "", "Latent Lab")
    assert_clean(page, "home")
    pictures = page.locator("[data-testid=stMain] [data-testid=stImage] img")
    pictures.nth(3).wait_for()
    boxes = [pictures.nth(i).bounding_box() for i in range(4)]
    loaded = page.evaluate("() => [...document.querySelectorAll('[data-testid=stMain] [data-testid=stImage] img')]"
                           ".slice(0, 4).map(i => i.complete && i.naturalWidth > 0)")
    assert all(loaded), loaded
    assert all(b["y"] + b["height"] <= 800 and b["width"] > 100 for b in boxes), boxes
    page.screenshot(path=str(ARTIFACTS / "home-above-the-fold.png"))


def test_guided_tour_end_to_end(server, page):
    """Draw a 7 in step 1, then Next through every step: each renders with no error; the URL names the step,
    and a fresh session opened on a step's URL shows that step."""
    if not any(p.suffix == ".safetensors" for p in pretrained_models()):
        pytest.skip("the tour runs on the pretrained models")
    open_page(page, server.url, "Tour?step=1", "Guided tour")
    stroke(page, SEVEN)
    wait_text(page, "your drawing, then each model's copy")
    timings = {}
    for step in range(1, 8):
        heading = page.locator("[data-testid=stMain] h3").filter(has_text=re.compile(rf"^{step}\. "))
        heading.first.wait_for()
        settle(page)
        assert_clean(page, f"tour step {step}")
        assert f"step={step}" in page.url
        screenshot(page, f"tour-{step}")
        if step == 5:
            assert "your drawing is stranger than" in page.locator("[data-testid=stMain]").inner_text()
        if step < 7:
            t0 = time.perf_counter()
            page.get_by_role("button", name="Next").click()
            page.locator("[data-testid=stMain] h3").filter(has_text=re.compile(rf"^{step + 1}\. ")).first.wait_for()
            timings[step + 1] = settle(page) - t0
    assert page.get_by_role("button", name="Next").is_disabled()
    (ARTIFACTS / "tour-timings.json").write_text(json.dumps(timings))
    fresh = page.context.browser.new_context(viewport=VIEWPORT).new_page()
    open_page(fresh, server.url, "Tour?step=4", "Guided tour")
    assert "4. Noise in, digit out" in fresh.locator("[data-testid=stMain]").inner_text()
    assert not problems(fresh)
    fresh.context.close()


def test_a_shared_link_reopens_the_same_view(server, page):
    """Select digits on the map; the URL now holds the view; a fresh browser session opened on that URL shows
    the same model, projection and selection."""
    open_page(page, server.url, f"Latent_space?model={TINY}&map=pca", "Latent space", timeout=180)
    settle(page)
    assert "map=pca" in page.url and f"model={TINY}" in page.url
    page.goto(page.url + "&sel=10,20,30")
    page.locator("[data-testid=stMain] h1").first.wait_for()
    wait_text(page, "3 digits selected")
    settle(page)
    shared = page.url
    assert "sel=10%2C20%2C30" in shared or "sel=10,20,30" in shared
    fresh = page.context.browser.new_context(viewport=VIEWPORT).new_page()
    fresh.goto(shared)
    wait_text(fresh, "3 digits selected")
    settle(fresh)
    main = fresh.locator("[data-testid=stMain]").inner_text()
    assert f"PCA of {TINY}'s" in main and not problems(fresh)
    fresh.context.close()


def test_a_click_on_empty_space_decodes_that_place(server, page):
    """vae_2d's map is its latent plane: a click anywhere (its invisible decode grid) shows the digit decoded
    there. The warm click-to-digit time goes to test-artifacts/decode-click.json (the bench figure)."""
    if not any(p.stem == "vae_2d" for p in pretrained_models()):
        pytest.skip("needs the shipped vae_2d")
    open_page(page, server.url, "Latent_space?model=vae_2d%20(pretrained)&map=pca", "Latent space", timeout=180)
    chart = page.locator("[data-testid=stPlotlyChart]").first
    area = chart.locator(".nsewdrag").first.bounding_box()
    times = []
    for fx, fy in ((0.05, 0.05), (0.95, 0.95), (0.9, 0.1)):  # corners: empty space on any map
        t0 = time.perf_counter()
        page.mouse.click(area["x"] + area["width"] * fx, area["y"] + area["height"] * fy)
        wait_text(page, re.compile(r"^decoded at \("))
        times.append(settle(page) - t0)
        assert_clean(page, "Latent space after a click on empty space")
    (ARTIFACTS / "decode-click.json").write_text(json.dumps({"seconds": times}))
    screenshot(page, "latent_space-decode-anywhere")


def _needs_shipped(*names: str) -> None:
    missing = set(names) - {p.stem for p in pretrained_models()}
    if missing:
        pytest.skip(f"needs the shipped {', '.join(sorted(missing))}")


def test_the_vae_posterior_moves_with_each_stroke(server, page):
    """Draw on the server path (the browser's runtime refused; the live path is tests/test_browser_live.py): a
    VAE is among the default models and its map comes first, with samples of q(z|x) that move with each stroke,
    in the same run as the reconstructions. Stroke -> settled page times go to
    test-artifacts/browser/draw-posterior.json."""
    _needs_shipped("vae")
    page.route(re.compile(r".*ort-wasm-simd-threaded\.wasm\.gz.*"), lambda route: route.abort())
    open_page(page, server.url, "Draw", "Draw", timeout=180)
    assert live_status(page) == "off"
    times, centres = [], []
    for points in (SEVEN, ONE):
        stroke(page, points)
        t0 = time.perf_counter()
        wait_text(page, "nearest test digits in latent space")
        page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')].some(gd => "
                               "(gd.data || []).some(t => t.name === 'samples of q(z|x)'))")
        times.append(settle(page) - t0)
        assert_clean(page, "Draw with a VAE's posterior")
        assert any("samples of q(z|x)" in names and "your digit" in names for names in trace_names(page))
        chart = next(i for i, names in enumerate(trace_names(page)) if "samples of q(z|x)" in names)
        centres.append(trace_mean(page, chart, "samples of q(z|x)"))
    assert centres[0] != centres[1], "the posterior did not move with the second stroke"
    (ARTIFACTS / "draw-posterior.json").write_text(json.dumps({"stroke_to_settled_s": times}))
    screenshot(page, "draw-posterior")


def test_directions_demo_four_to_nine_and_thin_to_bold(server, page):
    """The demo path: a shared link opens 4 -> 9 on the vae; the reach slider moves; then thin -> bold."""
    _needs_shipped("vae")
    open_page(page, server.url, "Directions?model=vae%20(pretrained)&between=digits&from=4&to=9", "Directions")
    wait_text(page, re.compile(r"^From the mean code of [\d,]+ 4s test digits to that of [\d,]+ 9s"))
    wait_caption(page, "← towards 4s")
    slide(page, "How far each way", 3)
    page.wait_for_url(re.compile(r"reach=2\.25(&|$)"))
    assert_clean(page, "Directions, 4 to 9")
    screenshot(page, "directions-4-to-9")
    page.get_by_text("thin → bold").click()
    settle(page)
    wait_text(page, re.compile(r"thin test digits to that of"))
    wait_caption(page, "towards bold")
    assert "between=ink" in page.url
    assert_clean(page, "Directions, thin to bold")
    screenshot(page, "directions-thin-to-bold")


def test_side_by_side_demo_rings_a_selection_on_both_maps(server, page):
    _needs_shipped("vae", "dense")
    open_page(page, server.url, "Side_by_side?left=vae%20(pretrained)&right=dense%20(pretrained)", "Side by side",
              timeout=180)
    assert [n for n in trace_names(page) if "shared selection" in n] == []
    box_select(page, page.locator("[data-testid=stPlotlyChart]").first, (0.3, 0.3, 0.6, 0.6))
    summary = wait_text(page, re.compile(r"^\d+ digits selected"))
    settle(page)
    assert_clean(page, "Side by side after a selection")
    n = int(re.match(r"(\d+)", summary.inner_text()).group(1))
    names = trace_names(page)
    assert len(names) == 2 and all("shared selection" in chart for chart in names)  # ringed on both maps
    assert "sel=" in page.url and "left=vae" in page.url
    assert len(captions(page, "reconstructions")) == 2 and n >= 1
    screenshot(page, "side_by_side-linked")


def test_generate_controls_go_into_the_url(server, page):
    """A moved slider lands in the URL; that URL opens the same tab and value in a fresh session."""
    _needs_shipped("vae")
    open_page(page, server.url, "Generate?model=vae%20(pretrained)", "Generate")
    page.get_by_role("tab", name="Traverse").click()
    settle(page)
    slide(page, "Range ±", -2)
    page.wait_for_url(re.compile(r"gen_span=2(\.0)?(&|$)"))
    assert "gen_tab=Traverse" in page.url
    fresh = page.context.browser.new_context(viewport=VIEWPORT).new_page()
    fresh.goto(page.url)
    fresh.locator("[data-testid=stMain] h1").first.wait_for()
    settle(fresh)
    slider = fresh.locator("[data-testid=stSlider]").filter(has_text="Range ±").first
    assert slider.locator("[data-testid=stSliderThumbValue]").inner_text() == "2.00"
    assert fresh.get_by_role("tab", name="Traverse").get_attribute("aria-selected") == "true"
    assert not problems(fresh)
    fresh.context.close()
