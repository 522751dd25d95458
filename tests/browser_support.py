"""Driving the real Latent Lab app in Chromium (Playwright): server start/stop, settling, drawing, screenshots.

Shared by tests/test_browser.py and bench/bench_app.py. Playwright is imported lazily so importing this
module never fails where it is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "browser"
# Tests write screenshots under test-artifacts/ (ignored by git), so a test run leaves the checkout clean; the
# README's pictures in docs/screenshots come from scripts/screenshots.py and a clean server.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}

# (URL path, screenshot name, the page's title). Streamlit derives the paths from the page file names.
PAGES = [
    ("", "home", "Latent Lab"),
    ("Train", "train", "Train"),
    ("Draw", "draw", "Draw"),
    ("Latent_space", "latent_space", "Latent space"),
    ("Generate", "generate", "Generate"),
    ("Compare", "compare", "Compare"),
    ("Anomalies", "anomalies", "Anomalies"),
    ("Tour", "tour", "Guided tour"),
    ("Directions", "directions", "Directions"),
    ("Side_by_side", "side_by_side", "Side by side"),
]
# A "7" in canvas pixels (the canvas is 280x280): the top bar, then the diagonal.
SEVEN = [(75, 60), (205, 60), (195, 100), (165, 160), (130, 230)]
ONE = [(140, 45), (145, 140), (150, 235)]


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def app_env(models: Path, cache: Path, numba_cache: Path | None = None, **extra) -> dict:
    """The server's environment: isolated model folder and caches, offline; AECORE_DATA_DIR as given."""
    env = dict(os.environ)
    env.update(AECORE_MODELS_DIR=str(models), AECORE_CACHE_DIR=str(cache), AECORE_OFFLINE="1",
               PYTHONUNBUFFERED="1")
    # Compiled numba code (UMAP) is safe to share between runs: keep it across test sessions unless told.
    env["NUMBA_CACHE_DIR"] = str(numba_cache or os.environ.get("NUMBA_CACHE_DIR") or REPO / ".cache" / "numba")
    env.update({k: str(v) for k, v in extra.items()})
    for key in ("AECORE_MODELS_DIR", "AECORE_CACHE_DIR", "NUMBA_CACHE_DIR"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    return env


def train_cli(variant: str, out: Path, env: dict, epochs: int = 1, train_size: int = 1000) -> Path:
    """Train a small model with the aecore CLI (a few seconds for dense); fail unless the catalog lists it."""
    from aecore.catalog import describe

    subprocess.run([sys.executable, "-m", "aecore", "train", variant, "--epochs", str(epochs),
                    "--train-size", str(train_size), "--fast-eval", "--quiet", "--out", str(out)],
                   cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    error = describe(out, "yours").error
    if error is not None:
        raise RuntimeError(f"the catalog rejects {out}: {error}")
    return out


def pretrained_models() -> list[Path]:
    from aecore.storage import pretrained_dir

    folder = pretrained_dir()
    return sorted(folder.glob("*.safetensors")) if folder.is_dir() else []


class AppServer:
    """The app as ``latent-lab`` serves it (latent_lab.ui.serve) on a free port, a subprocess of the repo root."""

    def __init__(self, env: dict, log: Path, port: int | None = None, keep_as: str | None = None):
        """``keep_as``: when the server stops, its log is copied to test-artifacts/ under that name."""
        self.env, self.log, self.port, self.keep_as = env, log, port or free_port(), keep_as
        self.url = f"http://localhost:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.started = 0.0

    def start(self, timeout: float = 60.0) -> AppServer:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.started = time.perf_counter()
        self._log = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "latent_lab.ui.serve", "--port", str(self.port)],
            cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - self.started
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"no answer from {self.url}/_stcore/health in {timeout:.0f} s: {self.tail()}")

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()
        if self.keep_as and self.log.exists():
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.log, ARTIFACTS / self.keep_as)

    def __enter__(self):
        return self if self.proc is not None else self.start()  # ``with server.start(timeout=...)`` too

    def __exit__(self, *exc):
        self.stop()


@contextmanager
def fresh_page(browser, timeout_ms: int = 60_000):
    """A page in a context of its own (no cookies, storage or cache shared with other tests)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    try:
        yield page
    finally:
        context.close()


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)


@contextmanager
def chromium():
    """Debian's Chromium, headless, for as long as the ``with`` lasts."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            yield browser
        finally:
            browser.close()


# -- waiting ---------------------------------------------------------------------------------------

_RUNNING_JS = """() => {
  const app = document.querySelector('[data-testid=stApp]');
  if (!app || !document.querySelector('[data-testid=stMain]')) return true;
  if (app.dataset.testConnectionState !== 'CONNECTED') return true;
  if (app.dataset.testScriptState !== 'notRunning') return true;  // initial, running, rerunRequested...
  if (document.querySelector('[data-stale=true]')) return true;  // elements of the previous run
  return false;
}"""


def is_running(page) -> bool:
    return bool(page.evaluate(_RUNNING_JS))


def settle(page, timeout: float = 60.0, quiet: float = 0.6, every: float = 0.1) -> float:
    """Wait until the script has finished: not running and no stale element for ``quiet`` s, looking every
    ``every`` s (a timing wants a short one: the calm is seen up to that late).

    Returns the perf_counter() time at which that calm began."""
    deadline = time.perf_counter() + timeout
    calm_since = None
    while time.perf_counter() < deadline:
        if is_running(page):
            calm_since = None
        elif calm_since is None:
            calm_since = time.perf_counter()
        elif time.perf_counter() - calm_since >= quiet:
            return calm_since
        page.wait_for_timeout(every * 1000)
    raise TimeoutError(f"the app was still running after {timeout:.0f} s")


def open_page(page, base: str, path: str, title: str, timeout: float = 120.0) -> None:
    """Go to a page by URL, wait for its title (drawn by the script), then for the run to end."""
    page.goto(f"{base}/{path}", wait_until="domcontentloaded")
    page.locator("[data-testid=stMain] h1").filter(has_text=title).first.wait_for(timeout=timeout * 1000)
    settle(page, timeout)


def problems(page) -> list[str]:
    """Texts of exception boxes and error alerts (the app's guard turns failures into st.error)."""
    boxes = page.locator("[data-testid=stException], [data-testid=stAlertContentError]")
    return [boxes.nth(i).inner_text()[:500] for i in range(boxes.count())]


def wait_text(page, text, timeout: float = 60.0):
    """Wait for visible text (a string or compiled regex); fail at once if the app shows an error instead."""
    loc = page.get_by_text(text).first
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if loc.count() and loc.is_visible():
            return loc
        if not is_running(page) and problems(page):
            raise AssertionError(f"waiting for {text!r}, the app shows: {problems(page)}")
        page.wait_for_timeout(100)
    raise TimeoutError(f"no {text!r} on the page after {timeout:.0f} s")


# -- input -----------------------------------------------------------------------------------------

def canvas(page):
    """The drawing canvas (ui/frontend: a components-v2 element in the page, in a shadow root that Playwright's
    locators reach)."""
    loc = page.locator("[data-testid=ll-canvas]")
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        if loc.count() and loc.first.bounding_box():
            return loc.first
        page.wait_for_timeout(200)
    raise TimeoutError("no drawing canvas on the page")


def live_status(page, timeout: float = 60.0, every_model: bool = True) -> str:
    """Wait until the canvas's browser models have started or failed: "live" (and, with ``every_model``, every
    chosen model is in: they arrive one by one, the canvas is live from the first) or "off" (data-status)."""
    root = page.locator(".ll-draw").first
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        status = root.get_attribute("data-status") if root.count() else None
        waiting = every_model and status == "live" and page.locator(".ll-recons figure.ll-waiting").count()
        if status == "off" or (status == "live" and not waiting):
            return status
        page.wait_for_timeout(100)
    raise TimeoutError(f"the canvas's browser models neither started nor failed in {timeout:.0f} s")


def live_marks(page) -> dict:
    """The canvas's own timing marks (ui/frontend/src/draw.js): updates [{move, painted, shown}], ready, status,
    guess and the last 28x28 input."""
    return page.evaluate("() => JSON.parse(JSON.stringify(window.__latentLab || null))")


def stroke(page, points=SEVEN, steps: int = 8) -> None:
    """Draw one stroke through ``points`` (canvas pixels) with the mouse."""
    target = canvas(page)
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    sx, sy = box["width"] / 280, box["height"] / 280

    def at(p):
        return box["x"] + p[0] * sx, box["y"] + p[1] * sy

    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for a, b in zip(points, points[1:], strict=False):
        for k in range(1, steps + 1):
            t = k / steps
            page.mouse.move(*at((a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)))
    page.mouse.up()


def captions(page, containing: str = "") -> list[str]:
    """Texts of image captions (st.image) on the page."""
    texts = page.eval_on_selector_all("[data-testid=stImageCaption]", "els => els.map(e => e.innerText)")
    return [t.strip() for t in texts if containing in t]


def wait_caption(page, containing: str, timeout: float = 60.0) -> None:
    """Wait for an image caption containing ``containing`` (images may arrive after the text above them)."""
    page.wait_for_function("""text => [...document.querySelectorAll('[data-testid=stImageCaption]')]
                               .some(e => e.innerText.includes(text))""", arg=containing, timeout=timeout * 1000)


def chosen(page, label: str) -> list[str]:
    """The options chosen in the st.multiselect labelled ``label``."""
    texts = page.evaluate("""label => [...document.querySelectorAll('[data-testid=stMultiSelect]')]
        .filter(e => (e.querySelector('[data-testid=stWidgetLabel]')?.innerText || '').trim() === label)
        .map(e => e.querySelector('[data-testid=stMultiSelectTagsContainer]')?.innerText || '')""", label)
    text = texts[0] if texts else ""
    return [t.strip() for t in text.splitlines() if t.strip() and t.strip() not in ("×", "Choose options")]


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` (substring of the option text) in the st.selectbox labelled ``label``."""
    box = page.locator("[data-testid=stSelectbox]").filter(
        has=page.locator("[data-testid=stWidgetLabel]", has_text=label)).first
    box.click()
    page.get_by_role("option").filter(has_text=option).first.click()
    settle(page)


def set_number(page, label: str, value) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    settle(page)


def box_select(page, chart, box=(0.25, 0.25, 0.75, 0.75)) -> None:
    """Drag Plotly's box selection over ``box`` (fractions of the plot area: x0, y0, x1, y1) of ``chart``."""
    chart.hover()
    chart.locator(".modebar-btn[data-val='select']").first.click()  # Plotly's "Box Select"
    area = chart.locator(".nsewdrag").first.bounding_box()
    x0, y0 = area["x"] + area["width"] * box[0], area["y"] + area["height"] * box[1]
    x1, y1 = area["x"] + area["width"] * box[2], area["y"] + area["height"] * box[3]
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 16):
        page.mouse.move(x0 + (x1 - x0) * k / 15, y0 + (y1 - y0) * k / 15)
    page.mouse.up()


def trace_names(page) -> list[list[str]]:
    """The trace names of each Plotly chart on the page, in page order (what the figure really holds)."""
    return page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .map(gd => (gd.data || []).map(t => t.name || ''))""")


def trace_mean(page, chart: int, name: str) -> tuple[float, float] | None:
    """The mean (x, y) of the points of the trace called ``name`` in the ``chart``-th Plotly chart."""
    return page.evaluate("""([i, name]) => {
        const gd = document.querySelectorAll('.js-plotly-plot')[i];
        const t = gd && (gd._fullData || []).find(t => t.name === name);  // decoded (data may hold base64)
        if (!t) return null;
        const mean = a => Array.from(a).reduce((s, v) => s + v, 0) / a.length;
        return [mean(t.x), mean(t.y)];
    }""", [chart, name])


def slide(page, label: str, presses: int) -> None:
    """Move the st.slider labelled ``label`` by ``presses`` steps with the keyboard (negative: left), one step
    at a time: each waits for the value shown to change and the rerun to end (a key pressed during a rerun
    can be lost)."""
    box = page.locator("[data-testid=stSlider]").filter(
        has=page.locator("[data-testid=stWidgetLabel]", has_text=label)).first
    shown = box.locator("[data-testid=stSliderThumbValue]")
    for _ in range(abs(presses)):
        before = shown.inner_text()
        thumb = box.get_by_role("slider")
        thumb.focus()
        thumb.press("ArrowRight" if presses > 0 else "ArrowLeft")
        deadline = time.perf_counter() + 10
        while shown.inner_text() == before and time.perf_counter() < deadline:
            page.wait_for_timeout(50)
        settle(page)


# -- screenshots -----------------------------------------------------------------------------------

def screenshot(page, name: str, folder: Path = ARTIFACTS) -> Path:
    """A full-page PNG (1280 px wide) of the page as ``folder/name.png``.

    Streamlit scrolls inside its own container, so the viewport is grown to the content's height first."""
    height = page.evaluate("""() => {
      const els = [document.documentElement, document.body,
                   document.querySelector('[data-testid=stMain]'),
                   document.querySelector('[data-testid=stAppViewContainer]'),
                   document.querySelector('[data-testid=stMainBlockContainer]')];
      return Math.max(...els.filter(Boolean).map(e => e.scrollHeight));
    }""")
    size = page.viewport_size or VIEWPORT
    tall = max(size["height"], min(int(height) + 40, 6000))
    if tall != size["height"]:
        page.set_viewport_size({"width": size["width"], "height": tall})
        page.wait_for_timeout(400)  # charts re-layout to the new size
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}.png"
    page.screenshot(path=str(out), full_page=True)
    if tall != size["height"]:
        page.set_viewport_size(size)
    return out
