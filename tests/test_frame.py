"""The frame on a fresh server: the very first visitor, arriving by a shared link to a sub-page, gets the
app's own menu (labels, order, icons), not Streamlit's automatic list of the pages folder."""

from __future__ import annotations

import pytest
from browser_support import AppServer, app_env, launch, missing_browser, open_page

from latent_lab.ui.chrome import PAGES

pytestmark = [pytest.mark.browser, pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser()))]


def test_the_first_visitor_of_a_sub_page_gets_the_apps_own_menu(tmp_path):
    from playwright.sync_api import sync_playwright

    env = app_env(tmp_path / "models", tmp_path / "cache", AECORE_DATA_DIR=tmp_path)
    with AppServer(env, tmp_path / "server.log") as server, sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            open_page(page, server.url, "Directions?model=vae%20(pretrained)", "Directions")
            nav = page.locator("[data-testid=stSidebarNav]").inner_text()
            labels = [line.strip() for line in nav.splitlines() if line.strip()]
            words = [label for label in labels if not label.startswith(("arrow", "home", "model_", "draw"))]
            assert "Guided tour" in nav and "Side by side" in nav, labels
            assert "app" not in words and "Tour" not in words, labels
            order = [p.label for p in PAGES]
            assert [w for w in words if w in order] == order, labels
        finally:
            browser.close()
