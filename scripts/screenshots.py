"""The README's screenshots (docs/screenshots/*.png), from a clean server with only the shipped models.

Starts `latent-lab` (latent_lab.ui.serve) with an empty model folder and an empty cache, offline, and walks the app in
Debian's Chromium at 1280x800 as a presenter would: Home, the guided tour (a 7 drawn in step 1), each page,
the demo paths (decode anywhere, a direction, a linked selection), presenter mode, and last a quick-preset
training run on the Train page; then the tour as a projector shows it (1280x720, presenter mode, light and
dark). Never run by the tests, whose pictures stay under test-artifacts/.

    python scripts/screenshots.py                       # bundled data
    python scripts/screenshots.py --data-dir ../shared/data
    python scripts/screenshots.py --data-dir ../shared/data --only tour-presenter
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser_support import (  # noqa: E402
    SEVEN,
    AppServer,
    app_env,
    box_select,
    choose,
    launch,
    missing_browser,
    open_page,
    problems,
    screenshot,
    settle,
    slide,
    stroke,
    wait_text,
)

OUT = REPO / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
PROJECTOR = {"width": 1280, "height": 720}


def shoot(page, name: str, out: Path, full: bool = True) -> None:
    if problems(page):
        raise RuntimeError(f"{name}: the page shows an error: {problems(page)}")
    if full:
        screenshot(page, name, out)
    else:  # what fits on the screen, as the audience sees it
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out / f"{name}.png"))
    print(f"{name}.png", flush=True)


def walk_tour(page, app, out: Path, name: str, query: str = "") -> None:
    """Draw a 7 in step 1, then Next through the steps, each shot as the screen shows it."""
    open_page(page, app.url, "Tour?step=1" + query, "Guided tour")
    stroke(page, SEVEN)
    wait_text(page, "your drawing, then each model's copy")
    for step in range(1, 8):
        page.locator("[data-testid=stMain] h3").filter(has_text=re.compile(rf"^{step}\. ")).first.wait_for()
        settle(page)
        shoot(page, name.format(step=step), out, full=False)
        if step < 7:
            page.get_by_role("button", name="Next").click()


def tour_presenter(browser, app, out: Path) -> None:
    """The tour on a projector: 1280x720, presenter mode, in the light theme and the dark one."""
    for theme in ("light", "dark"):
        page = browser.new_context(viewport=PROJECTOR, color_scheme=theme).new_page()
        page.set_default_timeout(120_000)
        walk_tour(page, app, out, f"tour-presenter-{theme}-{{step}}", "&presenter=1")
        page.context.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", help="data root (default: none, so the bundled sample)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--only", choices=["tour-presenter"], help="take just these shots")
    args = ap.parse_args(argv)
    why = missing_browser()
    if why:
        print(f"cannot take screenshots: {why}", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = app_env(root / "models", root / "cache", AECORE_DATA_DIR=args.data_dir or root / "no-data")
        (root / "no-data").mkdir(exist_ok=True)
        with AppServer(env, root / "server.log") as app, sync_playwright() as p:
            browser = launch(p)
            if args.only == "tour-presenter":
                tour_presenter(browser, app, args.out)
                return 0
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(120_000)
            open_page(page, app.url, "", "Latent Lab", timeout=180)
            shoot(page, "home", args.out, full=False)
            walk_tour(page, app, args.out, "tour-{step}")
            open_page(page, app.url, "Draw", "Draw")
            stroke(page, SEVEN)
            wait_text(page, "nearest test digits in latent space")
            settle(page)
            shoot(page, "draw-reconstructions", args.out)
            for path, name, title in (("Latent_space", "latent_space", "Latent space"),
                                      ("Generate", "generate", "Generate"), ("Compare", "compare", "Compare"),
                                      ("Anomalies", "anomalies", "Anomalies")):
                open_page(page, app.url, path, title, timeout=180)
                shoot(page, name, args.out)
            open_page(page, app.url, "Latent_space?model=vae_2d%20(pretrained)&map=pca", "Latent space", timeout=180)
            area = page.locator("[data-testid=stPlotlyChart] .nsewdrag").first.bounding_box()
            page.mouse.click(area["x"] + area["width"] * 0.8, area["y"] + area["height"] * 0.2)
            wait_text(page, re.compile(r"^decoded at \("))
            settle(page)
            shoot(page, "latent_space-decode-anywhere", args.out)
            open_page(page, app.url, "Directions?model=vae%20(pretrained)&between=digits&from=4&to=9", "Directions")
            slide(page, "How far each way", 3)
            shoot(page, "directions-4-to-9", args.out)
            open_page(page, app.url, "Side_by_side?left=vae%20(pretrained)&right=dense%20(pretrained)",
                      "Side by side", timeout=180)
            box_select(page, page.locator("[data-testid=stPlotlyChart]").first, (0.3, 0.3, 0.6, 0.6))
            wait_text(page, re.compile(r"^\d+ digits selected"))
            settle(page)
            shoot(page, "side_by_side-linked", args.out)
            open_page(page, app.url, "?presenter=1", "Latent Lab")
            shoot(page, "home-presenter", args.out, full=False)
            open_page(page, app.url, "Train", "Train")
            choose(page, "Variant", "dense")
            choose(page, "Start from", "quick")
            page.get_by_role("button", name="Start training").click()
            page.locator("[data-testid=stAlertContentSuccess]").filter(has_text="saved as").wait_for(timeout=300_000)
            time.sleep(1)
            settle(page)
            shoot(page, "train-finished", args.out)
            tour_presenter(browser, app, args.out)
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
