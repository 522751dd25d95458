import numpy as np
import streamlit as st

from aecore import directions as D
from aecore import preprocess
from latent_lab.ui import chrome, figures, resources, view, widgets

chrome.page("Directions")
st.caption("The step from one group of digits' mean code to another's is a direction with meaning: move any digit "
           "along it and decode, or use it as a map axis.")
entries = resources.models()
widgets.require(entries)

view.restore_view({"between": ("dir_kind", ["digits", "ink", "slant"]),
                "from": ("dir_a", list(range(10))), "to": ("dir_b", list(range(10))),
                "row": ("dir_row", list(range(10_000))), "reach": ("dir_reach", [x / 4 for x in range(1, 13)])})
c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
with c1:
    entry = widgets.pick_model("Model", entries, key="dir_model", url="model")
chosen = view.direction_groups(entry.name)  # groups picked on the Latent space page, if any
kinds = {"digits": "two digits", "ink": "thin → bold", "slant": "leaning left → right"} | (
    {"selections": "my two map selections"} if chosen else {})
kind = c2.radio("From one group to another", list(kinds), format_func=kinds.get, key="dir_kind", horizontal=True)
a = c3.selectbox("From digit", range(10), index=4, key="dir_a", disabled=kind != "digits")
b = c4.selectbox("To digit", range(10), index=9, key="dir_b", disabled=kind != "digits")

with chrome.guard("Direction"):
    import torch

    model, test = widgets.load_or_stop(entry)
    codes = resources.codes(entry)
    if kind == "digits":
        (ga, gb), names = D.label_groups(test.labels, a, b), (f"{a}s", f"{b}s")
    elif kind == "selections":
        (ga, gb), names = (torch.tensor(chosen["a"]), torch.tensor(chosen["b"])), ("group A", "group B")
    else:
        (ga, gb), names = D.property_groups(getattr(D, kind)(test.images)), D.PROPERTIES[kind]
    step = D.direction(codes, ga, gb)
    st.caption(f"From the mean code of {len(ga):,} {names[0]} test digits to that of {len(gb):,} {names[1]} "
               f"ones: a step {float(step.norm()):.2f} long in the {entry.latent_dim}-D code space.")

    left, right = st.columns([1, 1])
    with left:
        drawn = view.DRAWN_DIGIT.get()
        mine = st.toggle("Move my drawing", disabled=drawn is None, key="dir_mine",
                         help="draw a digit on the Draw page (or in the tour) first")
        row = st.number_input("Test digit #", 0, len(test) - 1, 7, key="dir_row", disabled=mine)
        x = preprocess.as_batch(drawn) if mine else test.images[row: row + 1]
        label = int(test.labels[row]) if not mine else (a if kind == "digits" else 0)
        reach = st.slider("How far each way", 0.25, 3.0, 1.5, 0.25, key="dir_reach",
                          help="1 is the full step from one group's mean to the other's")
        view.share_view({"between": kind, "from": a, "to": b, "row": row, "reach": reach})
        with torch.no_grad():
            z = model.encode(x, model.labels_for(label, 1))[0]
        strip = D.walk(model, z, step, np.linspace(-reach, reach, 9), label if model.conditional else None)
        widgets.digits(strip, cols=9, scale=4, caption=f"← towards {names[0]} · the digit (middle) · "
                                                       f"towards {names[1]} →")
    with right:
        fig = figures.latent_figure(D.axis_map(codes, step), test.labels.numpy(), height=420,
                                    highlight=[row] if not mine else None)
        fig.update_xaxes(title_text=f"{names[0]} → {names[1]} (in steps)")
        fig.update_yaxes(title_text="the main remaining variation")
        widgets.chart(fig, key="dir_map", alt=f"map of the test digits with the direction {names[0]} → {names[1]} "
                                              "as its horizontal axis")
