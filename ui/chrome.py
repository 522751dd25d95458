"""The frame every page shares: the page list, the page title, presenter mode, and the one error policy
(one plain line on the page, the full traceback in the server log)."""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from typing import NamedTuple

import streamlit as st

from aecore.errors import UserError


class PageInfo(NamedTuple):
    path: str  # relative to app.py
    label: str
    icon: str
    url: str  # "" for the home page
    blurb: str  # one line on the home page


PAGES = [
    PageInfo("pages/0_Home.py", "Home", ":material/home:", "", "what this is, the models, the data"),
    PageInfo("pages/1_Train.py", "Train", ":material/model_training:", "Train", "train a model, watch it learn"),
    PageInfo("pages/2_Draw.py", "Draw", ":material/draw:", "Draw", "draw a digit, see reconstructions"),
    PageInfo("pages/3_Latent_space.py", "Latent space", ":material/scatter_plot:", "Latent_space",
             "explore the codes as a map"),
    PageInfo("pages/4_Generate.py", "Generate", ":material/auto_awesome:", "Generate", "sample, interpolate, traverse"),
    PageInfo("pages/5_Compare.py", "Compare", ":material/compare:", "Compare", "metrics, digits, denoising"),
    PageInfo("pages/6_Anomalies.py", "Anomalies", ":material/troubleshoot:", "Anomalies",
             "what a model finds strange: out-of-distribution detection"),
    PageInfo("pages/7_Tour.py", "Guided tour", ":material/slideshow:", "Tour", "seven steps for an audience"),
    PageInfo("pages/8_Directions.py", "Directions", ":material/arrow_right_alt:", "Directions",
             "thin → bold, 4 → 9: directions with meaning"),
    PageInfo("pages/9_Side_by_side.py", "Side by side", ":material/view_column_2:", "Side_by_side",
             "two models' maps, linked selection"),
]


ABOUT = ("**Latent Lab**: what autoencoders learn, on handwritten digits. The theme (light, dark or your "
         "system's) is the switch at the top of this menu.")
THEME_HELP = ("The theme: System, Light or Dark at the top of the ⋮ menu (top right); a link can ask for the dark "
              "one with ?embed_options=dark_theme.")


def navigation() -> None:
    """The frame: page settings, the presenter switch and the menu; then the chosen page runs."""
    # With client.toolbarMode=minimal the ⋮ menu shows only when the app gives it an item: About does, and
    # the menu then carries Streamlit's theme switch (System, Light, Dark), which the help text names.
    st.set_page_config(page_title="Latent Lab", page_icon=":material/science:", layout="wide",
                       menu_items={"About": ABOUT})
    set_presenter(st.sidebar.toggle(
        "Presenter mode", value=presenter(), key="presenter_toggle",
        help="Larger type and pictures; no developer controls, server folders or seeds (or add ?presenter=1 "
             "to the address). " + THEME_HELP))
    st.navigation([st.Page(p.path, title=p.label, icon=p.icon, url_path=p.url, default=not p.url)
                   for p in PAGES]).run()


def page(title: str) -> None:
    """The page's title, with the app's layout rules; in presenter mode type and pictures sized for a projector."""
    st.html(LAYOUT_CSS + (PRESENTER_CSS if presenter() else ""))
    st.title(title)


# Every page, every screen. The band above the title is Streamlit's room for a toolbar that is here one ⋮
# button; below 1280 px the side margins give way to content (a tablet's columns need the room); captions
# wrap between words, never inside one.
LAYOUT_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.5rem; }
@media (max-width: 1280px) { [data-testid="stMainBlockContainer"] { padding-left: 2rem; padding-right: 2rem; } }
@media (max-width: 640px) { [data-testid="stMainBlockContainer"] { padding-left: 1rem; padding-right: 1rem; } }
[data-testid="stImageCaption"] { overflow-wrap: normal; word-break: normal; }
</style>"""

# Larger type, and captions as dark (or light) as the text: pale grey vanishes on a projector. Colours come
# from the theme's own text colour, so this reads in the light theme and the dark one.
PRESENTER_CSS = """<style>
html { font-size: 20px; }
[data-testid="stCaptionContainer"], [data-testid="stImageCaption"] { opacity: 1; color: inherit !important;
  font-size: 0.95rem; }
[data-testid="stImage"] img { image-rendering: pixelated; }
h1 { font-size: 2.2rem !important; }
</style>"""


def presenter() -> bool:
    """Presenter mode: the sidebar toggle, or ``?presenter=1`` in the URL (so a link opens it)."""
    if "presenter" in st.session_state:
        return bool(st.session_state["presenter"])
    return st.query_params.get("presenter", "") in ("1", "true", "yes")


def set_presenter(on: bool) -> None:
    st.session_state["presenter"] = on
    if on:
        st.query_params["presenter"] = "1"
    else:
        st.query_params.pop("presenter", None)


def page_link(path: str) -> None:
    """A link to one of the app's pages (plain text when the page is run on its own, as in tests)."""
    from streamlit.errors import StreamlitAPIException

    for p in PAGES:
        if p.path == path:
            try:
                st.page_link(p.path, label=p.label, icon=p.icon)
            except StreamlitAPIException:
                st.markdown(p.label)


def _server_log() -> logging.Logger:
    """The app's one logger: full tracebacks go to the server's stderr, never to the browser."""
    log = logging.getLogger("latent_lab")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


LOG = _server_log()


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()<>#+-.!|~:$&"})


def plain(text: object) -> str:
    """Text from a file or a message, escaped so that Markdown shows it as it is (no link, no markup, no math),
    with the server's folders left out for a visitor from another machine or on a projector."""
    return without_paths(text).translate(_MARKDOWN)


_PATH = re.compile(r"(?<![\w.:/])(?:[A-Za-z]:\\|~?/)(?:[^\s/\\:'\"`()]+[/\\])*[^\s/\\:'\"`(),;]*")


def local_visitor() -> bool:
    """Whether this session's browser runs on the server's own machine (Streamlit gives no address then)."""
    try:
        return st.context.ip_address in (None, "127.0.0.1", "::1")
    except Exception:  # noqa: BLE001 - no runtime (a bare script run): it is the machine's own user
        return True


def shows_machine() -> bool:
    """Whether the page may show the server's own details (its folders, its CPU): only to a visitor at the
    server who is not presenting. Where your models live is for you, not for a room."""
    return local_visitor() and not presenter()


def without_paths(text: object) -> str:
    """``text`` with every absolute path replaced by "a folder on the server", unless :func:`shows_machine`."""
    text = str(text)
    return text if shows_machine() else _PATH.sub("(a folder on the server)", text)


@contextmanager
def guard(what: str = ""):
    """Show any failure as one line (st.error), never a traceback; the server log keeps the traceback.
    Streamlit's stop/rerun pass through."""
    try:
        yield
    except UserError as e:
        LOG.warning("%s: %s", what or "refused", e, exc_info=LOG.isEnabledFor(logging.DEBUG))
        st.error(f"{what}{': ' if what else ''}{plain(e)}")
    except OSError as e:  # a file or folder the server could not use: say which, not where
        LOG.warning("%s: %s", what or "refused", e)
        st.error(f"{what}{': ' if what else ''}{plain(e.strerror or e)}")
    except Exception as e:  # noqa: BLE001
        LOG.exception("%s failed", what or "a page")
        st.error(f"{what or 'Something went wrong'}: {type(e).__name__} (details in the server log)")
