import streamlit as st

from latent_lab.ui import chrome, figures, resources, view, widgets

chrome.page("Side by side")
st.caption("Two models' maps of the same test digits. Select digits on either map (drag a box, or pick the lasso "
           "in its toolbar): the same digits are ringed on the other, so you see whether the two models group them "
           "alike.")
entries = resources.models()
widgets.require(entries)
if len(entries) < 2:
    st.info("Side by side needs two models: train another on the Train page.")
    st.stop()

c1, c2 = st.columns(2)
with c1:
    left = widgets.pick_model("Left model", entries, key="pair_left", url="left")
partners = [e for e in entries if e.name != left.name and e.dataset == left.dataset]  # the same test digits
if not partners:
    st.info(f"No other model of {left.dataset} to set beside {left.name}: train one on the Train page.")
    st.stop()
with c2:
    right = widgets.pick_model("Right model", partners, key="pair_right", url="right")

with chrome.guard("Maps"):
    import torch

    test = resources.load_data(left.dataset, "test")
    maps = {e.name: widgets.quick_map(e) for e in (left, right)}
    shared = view.restore_view({}, view="pair", n_rows=len(test))  # the selection of a shared link
    shown = st.session_state.setdefault("pair_rows", list(shared))
    view.share_view({}, shown)
    picked = {}
    for col, e in zip((c1, c2), (left, right), strict=True):
        proj = maps[e.name]
        fig = figures.latent_figure(proj.coords, test.labels.numpy(), height=440, dragmode="select", highlight=shown,
                                    title=f"{e.name}: {proj.label}")
        event = widgets.chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"), container=col,
                              key=f"pair_chart.{e.name}.{len(shown)}.{hash(tuple(shown))}",
                              alt=f"{e.name}'s {proj.label} of the test digits, the shared selection ringed")
        picked[e.name] = view.chart_selection(event)[0]
    new = next((rows for rows in picked.values() if rows and rows != shown), None)
    if new is not None:  # a fresh selection on either map: ring it on both
        st.session_state["pair_rows"] = new
        st.rerun()

with chrome.guard("Selected digits"):
    if not shown:
        st.info("Select digits on either map to see them on both.")
    else:
        idx = torch.tensor(shown[:30])
        x, y = test.images[idx], test.labels[idx]
        st.markdown(f"**{len(shown)} digits selected**" + (" (showing 30)" if len(shown) > 30 else ""))
        widgets.digits(x, cols=15, caption="selected test digits")
        for e, col in zip((left, right), st.columns(2), strict=True):
            with col, torch.no_grad():
                widgets.digits(resources.model(e).reconstruct(x, y), cols=15, caption=f"{e.name}'s reconstructions")
        if st.button("Clear the selection", key="pair_clear"):
            st.session_state["pair_rows"] = []
            st.rerun()
