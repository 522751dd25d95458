"""What a session sees: the view state a URL shares, and the session values pages pass to one another.

Every value read from the address is bounded here, where it enters: a choice must be one on offer, a
number within its range, a selection at most :data:`MAX_SELECTION` distinct test rows that exist. A value
that fails is dropped with a one-line note, never an error."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Generic, NamedTuple, TypeVar

import streamlit as st

from latent_lab.ui.figures import GRID_ROW

IN_URL = "query-params"  # a widget's ``bind=``: its value lives in the URL, so a copied link reopens the view
MAX_SELECTION = 300  # digits a shared link may select (a URL has a length limit; more is a hostile link)
_MAX_SELECTION_TEXT = MAX_SELECTION * 7  # "12345," per row: anything longer is cut before it is split

T = TypeVar("T")


class SessionValue(Generic[T]):
    """One value a session keeps across pages, under one key (the key is written once, here)."""

    def __init__(self, key: str):
        self.key = key

    def get(self, default: T | None = None) -> T | None:
        return st.session_state.get(self.key, default)

    def set(self, value: T) -> None:
        st.session_state[self.key] = value


DRAWN_DIGIT: SessionValue = SessionValue("drawn_digit")  # (28, 28) float array: the last drawing or upload
DIRECTION_GROUPS: SessionValue = SessionValue("direction_groups")  # {model name: {"a": rows, "b": rows}}
JOB_ID: SessionValue = SessionValue("job_id")  # the training job this tab shows


class Within(NamedTuple):
    """A number range, as the allowed values of a :func:`restore_view` parameter."""

    low: float
    high: float


def parse_rows(text: str | None, n_rows: int | None = None) -> tuple[list[int], str | None]:
    """(test rows, a note on what was dropped or None) from a shared link's ``sel=3,5,8``: at most
    :data:`MAX_SELECTION` distinct rows in first-seen order, each within ``0 … n_rows - 1``."""
    if not text:
        return [], None
    rows: list[int] = []
    seen: set[int] = set()
    bad = over = 0
    parts = text[:_MAX_SELECTION_TEXT].split(",")
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if not (part.isascii() and part.isdigit()) or (n_rows is not None and int(part) >= n_rows):
            bad += 1
            continue
        if (row := int(part)) in seen:
            continue
        seen.add(row)
        if len(rows) < MAX_SELECTION:
            rows.append(row)
        else:
            over += 1
    cut = over or len(text) > _MAX_SELECTION_TEXT
    notes = ([f"the link's selection was cut to {MAX_SELECTION} digits"] if cut else []) + (
        [f"{bad} entr{'y' if bad == 1 else 'ies'} that name no test digit ignored"] if bad else [])
    return rows, ("; ".join(notes) if notes else None)


def restore_view(params: dict[str, tuple[str, Sequence]], view: str | None = None,
                 n_rows: int | None = None) -> list[int]:
    """On a session's first run of a page, copy the URL's view into its widgets, so a shared link reopens
    the same view: ``params`` maps a URL parameter to (widget key, allowed values), or to (widget key,
    Within(low, high)) for a number in that range; a value that is not allowed (an old model, a typo) is ignored.
    Returns the test rows of a shared selection (``sel``), checked against ``n_rows`` test digits. Plain
    widgets need none of this: they take ``bind="query-params"``; this serves what such a binding cannot (a
    selection, keys that change with the model, choices shown with a caption). ``view`` names the restore when
    the keys change with the model (it then happens once per session, not once per key)."""
    flag = "_view_restored." + (view or ".".join(key for key, _ in params.values()))
    if not st.session_state.get(flag):
        st.session_state[flag] = True
        for param, (key, allowed) in params.items():
            text = st.query_params.get(param)
            value = _number_in(text, allowed) if isinstance(allowed, Within) else next(
                (a for a in allowed if str(a) == text), None)
            if value is not None:
                st.session_state[key] = value
        rows, note = parse_rows(st.query_params.get("sel"), n_rows)
        st.session_state[flag + ".sel"] = rows
        if note:
            st.caption(f"From the link: {note}.")
    return st.session_state.get(flag + ".sel", [])


def _number_in(text: str | None, bounds: Within) -> float | None:
    try:
        value = float(text[:40]) if text else None
    except ValueError:
        return None
    return value if value is not None and bounds.low <= value <= bounds.high else None


MAX_LINK_NUMBERS = 64  # numbers one parameter may hold (a code has at most this many sliders)


def link_numbers(param: str) -> list[float] | None:
    """The finite numbers of the URL's ``param`` (``0.25`` or ``1.5,-2,0``) on the session's first read of it,
    else None: a shared link sets the view once; after that (a model changed, a tab left) the session's own state
    governs. At most :data:`MAX_LINK_NUMBERS` of a short text; the caller clips each to its range."""
    flag = "_view_restored." + param
    if st.session_state.get(flag):
        return None
    st.session_state[flag] = True
    return parse_numbers(st.query_params.get(param))


def parse_numbers(text: str | None) -> list[float] | None:
    """``1.5,-2,0`` as [1.5, -2.0, 0.0]; None unless every part is a finite number (see :func:`link_numbers`)."""
    if not text:
        return None
    try:
        numbers = [float(part) for part in text[:MAX_LINK_NUMBERS * 12].split(",")[:MAX_LINK_NUMBERS]]
    except ValueError:
        return None
    return numbers if all(math.isfinite(n) for n in numbers) else None


def share_numbers(param: str, numbers: Sequence[float]) -> None:
    """Write numbers into the URL's ``param`` (3 significant digits: what a slider shows)."""
    st.query_params[param] = ",".join(f"{float(n):.3g}" for n in numbers)


def share_view(values: dict, rows: list[int] | None = None) -> None:
    """Write the view into the URL (a copied link reopens it); a selection keeps its first
    :data:`MAX_SELECTION` digits."""
    for param, value in values.items():
        st.query_params[param] = str(value)
    if rows:
        st.query_params["sel"] = ",".join(str(r) for r in rows[:MAX_SELECTION])
    else:
        st.query_params.pop("sel", None)


def chart_selection(event) -> tuple[list[int], tuple[float, float] | None]:
    """(test rows selected on a latent map, the place clicked on its decode grid or None) from a Plotly event.

    A point's customdata[0] is its test row, or ``figures.GRID_ROW`` on the invisible decode grid; points without
    customdata (the rings of a shared selection) are not digits. Plotly sends numpy customdata as a typed array,
    so in the browser's event a row is {"0": .., "1": ..}."""
    points = (event.selection.points if event is not None and hasattr(event, "selection") else None) or []
    tagged = [(int(c["0"] if isinstance(c, dict) else c[0]), p) for p in points if (c := p.get("customdata"))]
    rows = sorted({row for row, _ in tagged if row != GRID_ROW})
    grid = [p for row, p in tagged if row == GRID_ROW]
    return rows, ((float(grid[0]["x"]), float(grid[0]["y"])) if len(grid) == 1 and not rows else None)


def direction_groups(model_name: str) -> dict | None:
    """The two groups of test rows picked on the Latent space page for this model ({"a": rows, "b": rows}),
    once both exist."""
    groups = (DIRECTION_GROUPS.get() or {}).get(model_name, {})
    return groups if groups.get("a") and groups.get("b") else None


def keep_direction_group(model_name: str, which: str, rows: list[int]) -> None:
    groups = DIRECTION_GROUPS.get() or {}
    groups.setdefault(model_name, {})[which] = list(rows)[:MAX_SELECTION]
    DIRECTION_GROUPS.set(groups)


def current_job():
    """The training job this tab shows: its own, else the one running on the server (a reload or a second
    tab re-attaches to it, with its progress and Stop)."""
    from aecore.jobs import BOARD

    mine = BOARD.get(JOB_ID.get())
    running = BOARD.running()
    if running and (mine is None or mine.finished):
        mine = running[0]
        JOB_ID.set(mine.id)
    return mine
