import streamlit as st

from aecore import export, projection
from aecore.generate import decode_mean
from aecore.metrics import nearest_codes
from aecore.projection import METHOD_NAMES, METHODS
from latent_lab.ui import chrome, figures, live_views, resources, view, widgets

chrome.page("Latent space")
entries = resources.models()
widgets.require(entries)
POINTS = [1000, 2000, 5000, 0]
shared = view.restore_view({"map": ("latent_method", METHODS), "colour": ("latent_color", ["label", "error"]),
                         "points": ("latent_n", POINTS)})

c1, c2, c3, c4 = st.columns([2, 2, 1, 2])
with c1:
    entry = widgets.pick_model("Model", entries, key="latent_model", url="model")
method = c2.radio("Projection", METHODS, format_func=METHOD_NAMES.get, horizontal=True, key="latent_method")
COLOUR_NAMES = {"label": "label", "error": "reconstruction error"}  # a label: a digit or a garment
color_by = c3.radio("Colour by", ["label", "error"], horizontal=True, key="latent_color", format_func=COLOUR_NAMES.get)
n = c4.select_slider("Points", POINTS, value=0, key="latent_n",
                     format_func=lambda v: f"{v:,}" if v else "all", help="t-SNE and UMAP are faster on fewer")

rows: list[int] = []  # test rows selected on the map (none when the map could not be drawn)
with chrome.guard("Latent map"):
    model, test = widgets.load_or_stop(entry)
    errors = resources.errors(entry)
    proj, subset = widgets.latent_map(entry, method, n or None)
    note = {"shipped": "precomputed and shipped with the app", "cache": "loaded from the cache"}.get(
        proj.cached, f"computed now in {proj.seconds:.1f} s and "
                     + ("cached" if proj.saved else "not cached (the cache folder cannot be written)"))
    st.caption(f"{proj.label} of {entry.name}'s {len(proj.coords):,} test codes ({entry.latent_dim}-D) — {note}. "
               "Point anywhere: the digit the model decodes there shows beside the map. Click a point to see it; to "
               "select digits, pick box or lasso select in the chart's toolbar and drag.")
    codes = resources.codes(entry) if subset is None else resources.codes(entry)[subset]
    xr, yr = ((float(proj.coords[:, i].min()), float(proj.coords[:, i].max())) for i in (0, 1))
    plane = resources.plane_picture(entry.sha256, model, xr, yr) \
        if entry.latent_dim == 2 else None  # the map is the latent plane: show what every place decodes to
    fig = figures.latent_figure(proj.coords, test.labels.numpy(), errors, color_by=color_by, rows=subset,
                                dragmode="pan", highlight=shared, grid=40, background=plane)
    chart_key, (map_col, hover_col) = f"latent_chart.{entry.name}.{method}.{n}", st.columns([4, 1])
    event = widgets.chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"), key=chart_key,
                          alt=f"{METHOD_NAMES[method]} map of {entry.name}'s test digits, one dot per digit, coloured "
                              f"by {COLOUR_NAMES[color_by]}", container=map_col)
    with hover_col:  # the digit under the pointer, decoded in the browser as it moves
        labels = test.labels.numpy() if subset is None else test.labels.numpy()[subset]
        if off := live_views.hover_decoder(entry, f"{proj.key}.{n}", proj.coords, codes, labels, chart_key):
            st.caption(f"Hover decoding is off: {chrome.plain(off)}. Click the map to decode a place.")
    rows, clicked = view.chart_selection(event)
    if rows:
        shared.clear()  # a new selection replaces the one a shared link brought (kept in session state)
    rows = rows or list(shared)
    view.share_view({"map": method, "colour": color_by, "points": n}, rows)
    st.download_button(
        "Export for the Embedding Projector", icon=":material/download:", type="tertiary", key="latent_export",
        file_name=export.projector_zip_name(entry.name, method), mime="application/zip", on_click="ignore",
        data=lambda: export.projector_zip(entry.name, resources.codes(entry), test.labels, test.images, proj.coords,
                                          subset, dataset=entry.dataset, method=method),
        help=export.PROJECTOR_HELP)

with chrome.guard("Selection"):
    import torch

    if clicked:
        z = projection.code_at(codes, proj.coords, clicked)
        nearest = int(nearest_codes(torch.tensor([clicked]), torch.from_numpy(proj.coords), 1)[0][0, 0])
        label = int(test.labels[nearest if subset is None else subset[nearest]])
        with torch.no_grad():
            widgets.digits(model.decode(z[None], model.labels_for(label, 1)), scale=6,
                           caption=f"decoded at ({clicked[0]:.2f}, {clicked[1]:.2f})")
    elif not rows:
        st.info("Select digits on the map to see them here.")
    else:
        idx = torch.tensor(rows)
        x, y = test.images[idx], test.labels[idx]
        with torch.no_grad():
            rec = model.reconstruct(x, y)
        if len(rows) == 1:
            i = rows[0]
            st.markdown(f"**Test digit #{i}** (label {int(y[0])}, reconstruction MSE {errors[i]:.4f})")
            widgets.digits(torch.cat([x, rec]), scale=6, caption="original · reconstruction")
        else:
            shown = min(len(rows), 40)
            st.markdown(f"**{len(rows)} digits selected** (labels: "
                        + ", ".join(f"{d}×{int((y == d).sum())}" for d in y.unique().tolist()) + ")"
                        + (f"; showing the first {shown}" if shown < len(rows) else ""))
            a, b = st.columns([3, 1])
            with a:
                widgets.digits(x[:shown], cols=10, caption="selected digits")
                widgets.digits(rec[:shown], cols=10, caption="their reconstructions")
            with b:
                with torch.no_grad():
                    z = model.encode(x, y)
                widgets.digits(decode_mean(model, z, y), scale=6, caption="decoding of the mean code")
                st.caption("Keep this selection as one end of a direction (Directions page):")
                for which, col in zip(("a", "b"), st.columns(2), strict=True):
                    if col.button(f"Group {which.upper()}", key=f"dir_group_{which}", width="stretch"):
                        view.keep_direction_group(entry.name, which, rows)
