"""Widgets the pages share: hyperparameter boxes built from a config dataclass, and digit strips."""

from __future__ import annotations

import hashlib
import re

import streamlit as st

from aecore import images
from aecore.config import field_problem, field_specs


def config_widgets(config_cls, key: str, defaults: dict | None = None, skip: tuple = (), columns: int = 3) -> dict:
    """One widget per dataclass field, its range in the help text; returns {name: value}.

    Number boxes take any number: a value out of range is refused with a message under its box (and by
    the config's validation), never silently replaced by the previous one."""
    values: dict = {}
    specs = [s for s in field_specs(config_cls) if s["name"] not in skip]
    cols = st.columns(columns)
    for i, s in enumerate(specs):
        name, default = s["name"], (defaults or {}).get(s["name"], s["default"])
        label, wkey = name.replace("_", " "), f"{key}.{name}"
        bounds = [f"{k} {s[k]:g}" for k in ("min", "max") if s[k] is not None]
        helptext = s["help"] + (f" ({', '.join(bounds)})" if bounds else "")
        with cols[i % columns]:
            if s["choices"]:
                if len(s["choices"]) == 1:
                    values[name] = s["choices"][0]
                    continue
                values[name] = st.selectbox(label, list(s["choices"]), index=list(s["choices"]).index(default),
                                            help=helptext, key=wkey)
            elif s["type"] == "bool":
                values[name] = st.checkbox(label, value=bool(default), help=helptext, key=wkey)
            elif s["type"] == "int":
                values[name] = int(st.number_input(label, value=int(default), step=1, help=helptext, key=wkey))
            elif s["type"] == "float":
                values[name] = float(st.number_input(label, value=float(default), help=helptext, key=wkey,
                                                     format="%g",
                                                     step=float(default) / 2 if s["log"] and default else 0.1))
            else:
                values[name] = st.text_input(label, value=str(default), help=helptext, key=wkey)
            problem = field_problem(s, values[name])
            if problem:
                st.error(problem)
    return values


def digits(batch, cols: int | None = None, caption: str | None = None, scale: int = 3,
           download: bool = True) -> None:
    """A batch of digits as one upscaled (nearest-neighbour) image, larger in presenter mode."""
    from app_state import presenter

    picture(images.tile_png(batch, cols=cols, scale=scale + presenter()), caption, download)


def picture(png: bytes, caption: str | None = None, download: bool = True) -> None:
    """A PNG with its caption, and a small button that downloads it (nothing reruns when it is clicked)."""
    st.image(png, caption=caption)
    if download:
        name = re.sub(r"[^a-z0-9]+", "-", (caption or "picture").lower()).strip("-")[:60] or "picture"
        st.download_button("PNG", png, file_name=f"{name}.png", mime="image/png", icon=":material/download:",
                           type="tertiary", on_click="ignore", help="download this picture",
                           key=f"png.{hashlib.sha1(png).hexdigest()[:16]}.{name}")


def evolution_map(ev, key: str, replay: bool = True) -> None:
    """A training evolution's map (``aecore.evolution.Evolution``): its latest frame, or with ``replay`` a
    slider over the epochs, the axes fixed so the clusters can be watched forming."""
    import figures

    last = len(ev.frames) - 1
    epoch = st.slider("epoch", 0, last, last, key=key, help="0: the untrained model") if replay and last else last
    st.plotly_chart(figures.evolution_figure(ev.frames[epoch], ev.labels, ev.rows, epoch, ev.limits()),
                    key=f"{key}.map")
