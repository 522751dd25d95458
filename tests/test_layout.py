"""The app on the screens a demo meets (Playwright, Chromium): a phone (390×844, touch), a tablet (1024×768,
touch) and a projector in presenter mode (1280×720 and 1920×1080, light and dark).

What is checked is what a presenter or a visitor would see go wrong: the drawing canvas clipped by its
column, the tour's key picture or its Back/Next below the fold or truncated, the canvas's toolbar over the
step's words, copies of a drawing a screen away from it, captions broken inside a word, a chart's toolbar
over its title, pictures and charts without a text alternative, and the server's folders, CPU or seeds on a
projector. One server for the module, with the shipped models; skipped where Playwright, Chromium or the
pretrained models are missing.

    python -m pytest -m browser tests/test_layout.py
"""

from __future__ import annotations

import os
import re

import pytest

from .browser_support import (
    ARTIFACTS,
    SEVEN,
    AppServer,
    app_env,
    canvas,
    missing_browser,
    open_page,
    pretrained_models,
    problems,
    settle,
    stroke,
    wait_text,
)
from .conftest import full_data_dir

pytestmark = [pytest.mark.browser]
_why = missing_browser()
if _why:
    pytest.skip(f"layout tests need Playwright and Chromium: {_why}", allow_module_level=True)
if not any(p.suffix == ".safetensors" for p in pretrained_models()):
    pytest.skip("the layout tests walk the shipped models' pages", allow_module_level=True)

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
TABLET = {"viewport": {"width": 1024, "height": 768}, "has_touch": True}
PROJECTOR = {"viewport": {"width": 1280, "height": 720}}
BIG = {"viewport": {"width": 1920, "height": 1080}}
SCREENS = {"phone": PHONE, "tablet": TABLET, "projector": PROJECTOR, "big": BIG}
PRESENTING = {"projector", "big"}  # these screens open every page with ?presenter=1


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("layout-app")
    env = app_env(root / "models", root / "cache")
    if not os.environ.get("AECORE_DATA_DIR"):
        full = full_data_dir()
        env["AECORE_DATA_DIR"] = str(full) if full else str(root / "no-data")
        (root / "no-data").mkdir(exist_ok=True)
    with AppServer(env, root / "server.log", keep_as="layout-server.log") as app:
        yield app


def new_page(browser, screen: str, dark: bool = False):
    context = browser.new_context(**SCREENS[screen], color_scheme="dark" if dark else "light")
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


def visit(page, server, screen: str, path: str, title: str) -> None:
    """Open a page as this screen's visitor would: a presenter's screens through ?presenter=1."""
    if screen in PRESENTING:
        path += ("&" if "?" in path else "?") + "presenter=1"
    open_page(page, server.url, path, title, timeout=180)
    assert not problems(page), f"{path}: {problems(page)}"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"layout-{name}.png"))


# -- what the page looks like, measured in the browser ------------------------------------------------

_CANVAS_JS = """() => {
  const find = sel => document.querySelector(sel) || [...document.querySelectorAll('*')]
    .map(e => e.shadowRoot && e.shadowRoot.querySelector(sel)).find(Boolean) || null;
  const canvas = find('[data-testid=ll-canvas]');
  if (!canvas) return null;
  const host = canvas.getRootNode().host || canvas;
  const box = e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; };
  return {canvas: box(canvas), column: box(host.closest('[data-testid=stColumn]') || host.parentElement),
          scrolls: false, toolbar: box(canvas.getRootNode().querySelector('.ll-tools'))};
}"""

# Every word of every image caption: a word whose letters lie on two lines was broken inside it.
_BROKEN_WORDS_JS = """() => {
  const broken = [];
  for (const el of document.querySelectorAll('[data-testid=stImageCaption]')) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""

_UNNAMED_JS = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  const imgs = [...main.querySelectorAll('img')].filter(i => !(i.getAttribute('alt') || '').trim());
  const charts = [...main.querySelectorAll('[data-testid=stPlotlyChart]')].filter(c =>
    !(c.getAttribute('aria-label') || c.querySelector('[aria-label]')?.getAttribute('aria-label') || '').trim());
  return {images: imgs.map(i => i.src.slice(-40)), charts: charts.length,
          alts: [...main.querySelectorAll('img')].map(i => i.alt)};
}"""

_TITLE_UNDER_TOOLBAR_JS = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].map(c => {
  const bar = c.querySelector('.modebar'), title = c.querySelector('.gtitle');
  if (!bar || !title) return null;
  const a = bar.getBoundingClientRect(), b = title.getBoundingClientRect();
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom ? title.textContent : null;
}).filter(Boolean)"""


def inside(box: dict, width: int, height: int | None = None) -> bool:
    """Whether a box ({x, y, w, h} or Playwright's {x, y, width, height}) lies whole on the screen."""
    w, h = box.get("w", box.get("width")), box.get("h", box.get("height"))
    fits_across = box["x"] >= -0.5 and box["x"] + w <= width + 0.5
    return fits_across and (height is None or (box["y"] >= -0.5 and box["y"] + h <= height + 0.5))


def assert_canvas_fits(page, where: str, below_the_fold_ok: bool = True) -> dict:
    canvas(page)  # waits for the component
    m = page.evaluate(_CANVAS_JS)
    size = page.viewport_size
    c, col = m["canvas"], m["column"]
    assert c["w"] >= 279 and not m["scrolls"], f"{where}: the canvas is clipped ({m})"
    assert col["x"] - 0.5 <= c["x"] and c["x"] + c["w"] <= col["x"] + col["w"] + 0.5, f"{where}: wider than its column"
    assert inside(c, size["width"], None if below_the_fold_ok else size["height"]), f"{where}: off screen ({c})"
    return m


def no_overlap(a: dict, b: dict) -> bool:
    return a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"] or \
        b["y"] + b["h"] <= a["y"]


def box(locator) -> dict:
    b = locator.bounding_box()
    return {"x": b["x"], "y": b["y"], "w": b["width"], "h": b["height"]}


# -- the drawing canvas --------------------------------------------------------------------------------

@pytest.mark.parametrize("screen", ["phone", "tablet", "projector", "big"])
def test_the_canvas_fits_its_column_and_the_copies_follow_the_drawing(server, browser, screen):
    """Draw: the whole 280-pixel canvas shows at every width; after a stroke the model's input and every
    copy start within a screen of the canvas; captions wrap between words; the map's toolbar leaves its title
    alone; every picture and chart has a text alternative."""
    page = new_page(browser, screen)
    visit(page, server, screen, "Draw", "Draw")
    m = assert_canvas_fits(page, f"Draw on the {screen}")
    stroke(page, SEVEN)
    wait_text(page, "28×28 model input")
    wait_text(page, "nearest test digits in latent space")
    settle(page)
    first_copy = page.locator(".ll-live figure canvas, [data-testid=stImage] img").first.bounding_box()
    bottom = m["canvas"]["y"] + m["canvas"]["h"]
    assert first_copy["y"] - bottom < page.viewport_size["height"], (first_copy, m["canvas"])
    assert page.evaluate(_BROKEN_WORDS_JS) == []
    assert page.evaluate(_TITLE_UNDER_TOOLBAR_JS) == []
    unnamed = page.evaluate(_UNNAMED_JS)
    assert not unnamed["images"] and not unnamed["charts"], unnamed
    shot(page, f"draw-{screen}")
    page.context.close()


# -- the guided tour on a projector -----------------------------------------------------------------------

def key_picture(page):
    """The step's key picture: the last picture or chart of the tour's stage (the column beside the words)."""
    stage = page.locator(".st-key-tour_stage [data-testid=stColumn]").nth(1)
    return stage.locator("[data-testid=stImage] img, [data-testid=stPlotlyChart]").first


def assert_step_fits(page, step: int, where: str) -> None:
    size = page.viewport_size
    w, h = size["width"], size["height"]
    heading = page.locator("[data-testid=stMain] h3").filter(has_text=re.compile(rf"^{step}\. ")).first
    heading.wait_for()
    settle(page)
    assert not problems(page), f"{where}: {problems(page)}"
    picture = key_picture(page)
    picture.wait_for()
    assert inside(box(picture), w, h), f"{where}: the key picture runs off the screen ({box(picture)})"
    for name in ("Back", "Next"):
        button = page.get_by_role("button", name=name)
        assert inside(box(button), w, h), f"{where}: {name} is off the screen"
        label = button.locator("p").first
        assert label.inner_text().strip() == name
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), f"{where}: {name} is truncated"
    title = page.locator("[data-testid=stMain] h1").first
    assert box(title)["y"] < 0.12 * h, f"{where}: an empty band above the title ({box(title)})"
    unnamed = page.evaluate(_UNNAMED_JS)
    assert not unnamed["images"] and not unnamed["charts"], f"{where}: {unnamed}"
    assert page.evaluate(_TITLE_UNDER_TOOLBAR_JS) == []


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_tour_fits_a_projector(server, browser, dark):
    """1280×720, presenter mode: every step's key picture whole on the screen, Back and Next whole and
    readable, no band above the title; in step 1 the canvas fits whole and its toolbar leaves the step's
    words alone."""
    page = new_page(browser, "projector", dark)
    visit(page, server, "projector", "Tour?step=1", "Guided tour")
    m = assert_canvas_fits(page, "tour step 1", below_the_fold_ok=False)
    page.locator(".st-key-tour_canvas").hover()  # the component shows its toolbar on hover
    page.wait_for_timeout(400)
    toolbar = page.evaluate(_CANVAS_JS)["toolbar"]
    words = box(page.locator(".st-key-tour_stage [data-testid=stMarkdown]").first)
    assert no_overlap(toolbar, words), (toolbar, words, m)
    stroke(page, SEVEN)
    wait_text(page, "your drawing, then each model's copy")
    for step in range(1, 8):
        assert_step_fits(page, step, f"step {step} ({'dark' if dark else 'light'})")
        shot(page, f"tour-{step}-{'dark' if dark else 'light'}")
        if step < 7:
            page.get_by_role("button", name="Next").click()
    page.context.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_tours_big_grids_fit_1080p(server, browser, dark):
    page = new_page(browser, "big", dark)
    for step in (6, 7):
        visit(page, server, "big", f"Tour?step={step}", "Guided tour")
        assert_step_fits(page, step, f"1080p step {step}")
    page.context.close()


@pytest.mark.parametrize("screen", ["phone", "tablet"])
def test_the_tours_canvas_fits_a_touch_screen(server, browser, screen):
    page = new_page(browser, screen)
    visit(page, server, screen, "Tour?step=1", "Guided tour")
    assert_canvas_fits(page, f"tour on the {screen}")
    assert page.get_by_role("button", name="Next").evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    page.context.close()


# -- presenter mode: nothing of the machine ------------------------------------------------------------------

MACHINE = re.compile(r"(?<![\w.])/(?:home|tmp|root|usr|var|work|Users)/|~/|\bthreads?\b|bf16|\.safetensors|\bseed\b|"
                     r"et al\.", re.I)


def test_presenter_mode_shows_nothing_of_the_machine(server, browser):
    """At the server's own machine Home names the models folder; presenting, no page shows a folder, the CPU,
    a file type, a seed or a citation, and the likelihood finding is a note, not a warning."""
    page = new_page(browser, "tablet")
    visit(page, server, "tablet", "", "Latent Lab")
    assert MACHINE.search(page.locator("[data-testid=stMain]").inner_text()), "the check would see a folder"
    page.context.close()
    page = new_page(browser, "projector")
    for path, title in (("", "Latent Lab"), ("Train", "Train"), ("Generate", "Generate"),
                        ("Anomalies", "Anomalies"), ("Compare", "Compare")):
        visit(page, server, "projector", path, title)
        text = page.locator("[data-testid=stMain]").inner_text()
        assert not MACHINE.search(text), f"{title}: {MACHINE.search(text).group(0)!r} in {text[:2000]}"
        if title == "Anomalies":
            assert not page.locator("[data-testid=stAlertContentWarning]").count()
        unnamed = page.evaluate(_UNNAMED_JS)
        assert not unnamed["images"] and not unnamed["charts"], f"{title}: {unnamed}"
    page.context.close()


# -- the theme ---------------------------------------------------------------------------------------------

def test_the_theme_switch_is_where_the_help_says(server, browser):
    """The Presenter toggle's help names the ⋮ menu's theme switch and ?embed_options=dark_theme: both exist."""
    from latent_lab.ui.chrome import THEME_HELP

    assert "⋮ menu" in THEME_HELP and "?embed_options=dark_theme" in THEME_HELP
    page = new_page(browser, "projector")
    visit(page, server, "projector", "Compare?embed_options=dark_theme", "Compare")
    background = page.evaluate("() => getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor")
    r, g, b = (int(v) for v in re.findall(r"\d+", background)[:3])
    assert r + g + b < 3 * 80, f"not a dark page: {background}"
    page.get_by_test_id("stMainMenuButton").click()
    menu = page.get_by_test_id("stMainMenuPopover")
    menu.wait_for()
    assert all(choice in menu.inner_text() for choice in ("Light", "Dark")), menu.inner_text()
    page.context.close()
