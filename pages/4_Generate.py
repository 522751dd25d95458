import streamlit as st

from aecore import export, preprocess
from aecore import generate as G
from latent_lab.ui import chrome, figures, live_views, resources, view, widgets
from latent_lab.ui.view import IN_URL

chrome.page("Generate")
entries = resources.models(generative=True)
widgets.require(entries, "generative models (vae, conv_vae or cvae)")
entry = widgets.pick_model("Model", entries, key="gen_model", url="model")
model, test = widgets.load_or_stop(entry)
cond = entry.conditional
names = ["Samples", "Interpolate", "Traverse", "Manifold"] + (["Digit styles", "Restyle"] if cond else [])
# Every control below is bound to the URL, so a copied link reopens this exact view.
tabs = dict(zip(names, st.tabs(names, key="gen_tab", bind=IN_URL), strict=True))

with tabs["Samples"], chrome.guard("Sampling"):
    c = st.columns(4)
    temp = c[0].slider("Temperature", 0.1, 2.0, 1.0, 0.1, key="gen_temp", bind=IN_URL,
                       help="Scale of the prior draws")
    seed = 0 if chrome.presenter() else c[1].number_input("Seed", 0, 2**31 - 1, 0, key="gen_seed", bind=IN_URL)
    n = c[2].slider("How many", 8, 64, 32, 8, key="gen_n", bind=IN_URL)
    digit = c[3].selectbox("Digit", range(10), key="gen_digit", bind=IN_URL) if cond else None
    widgets.digits(G.prior_samples(model, n, temp, seed, digit), cols=16,
             caption=f"{n} samples, temperature {temp:g}" + ("" if chrome.presenter() else f", seed {seed}"))

with tabs["Interpolate"], chrome.guard("Interpolation"):
    c = st.columns(4)
    drawn = view.DRAWN_DIGIT.get()
    use_drawn = c[0].checkbox("Start from my drawing", value=False, disabled=drawn is None, key="gen_use_drawn",
                              help="Draw a digit on the Draw page first")
    i0 = c[0].number_input("Start: test digit #", 0, len(test) - 1, 0, key="gen_i0", bind=IN_URL, disabled=use_drawn)
    i1 = c[1].number_input("End: test digit #", 0, len(test) - 1, 1, key="gen_i1", bind=IN_URL)
    mode = c[2].radio("Path", ["linear", "slerp"], key="gen_mode", bind=IN_URL, format_func={"linear": "linear",
                      "slerp": "spherical (slerp)"}.get)
    steps = c[3].slider("Steps", 3, 16, 10, key="gen_steps", bind=IN_URL)
    x0 = preprocess.as_batch(drawn) if use_drawn else test.images[i0]
    l0 = int(test.labels[i0]) if not use_drawn else st.number_input("Label of my drawing", 0, 9, 0, key="gen_l0")
    path = G.interpolate_images(model, x0, test.images[i1], steps, mode, l0, int(test.labels[i1]))
    widgets.digits(path, cols=steps, scale=4, caption=f"{mode} path between the two codes (ends included)")
    st.download_button("GIF", lambda: export.gif(path), file_name="interpolation.gif", mime="image/gif",
                       icon=":material/animation:", type="tertiary", on_click="ignore", key="gen_gif",
                       help="the walk as an animation, there and back")
    live_views.path_slider(entry, model, x0, test.images[i1], mode, (l0, int(test.labels[i1])), key="gen_live_path")

with tabs["Traverse"], chrome.guard("Traversal"):
    kl = resources.kl_per_dim(entry)
    c = st.columns(3)
    k = c[0].slider("Dimensions (highest KL first)", 1, entry.latent_dim, min(8, entry.latent_dim), key="gen_k",
                    bind=IN_URL)
    span = c[1].slider("Range ±", 1.0, 4.0, 3.0, 0.5, key="gen_span", bind=IN_URL)
    tdigit = c[2].selectbox("Digit", range(10), key="gen_tdigit", bind=IN_URL) if cond else None
    grid, dims = G.traversal(model, kl, k, 9, span, label=tdigit)
    widgets.digits(grid, cols=9, scale=3, caption="rows: dims " + ", ".join(f"{d} ({float(kl[d]):.2f} nats)"
                                                                       for d in dims))
    st.caption("Drag a slider: the model decodes those values, the other dimensions at 0, in your browser.")
    live_views.latent_sliders(entry, model, dims, [f"dim {d}" for d in dims], span, tdigit,
                              key=f"gen_live_dims.{entry.name}.{k}")
    widgets.chart(figures.kl_bars(kl.numpy()), key="gen_kl",
                  alt="bar chart of the mean KL divergence of each code dimension: the busy dimensions stand tall")

with tabs["Manifold"], chrome.guard("Manifold grid"):
    top = kl.argsort(descending=True).tolist()
    c = st.columns(4)
    dx = c[0].selectbox("Horizontal dim", range(entry.latent_dim), index=top[0], key="gen_dx", bind=IN_URL)
    dy = c[1].selectbox("Vertical dim", range(entry.latent_dim), index=top[min(1, len(top) - 1)], key="gen_dy",
                        bind=IN_URL)
    gn = c[2].slider("Grid size", 5, 20, 12, key="gen_gn", bind=IN_URL)
    mdigit = c[3].selectbox("Digit", range(10), key="gen_mdigit", bind=IN_URL) if cond else None
    if dx == dy:
        st.info("Pick two different dimensions.")
    else:
        widgets.digits(G.manifold_grid(model, dx, dy, gn, label=mdigit), cols=gn, scale=2,
                 caption=f"dims {dx} (→) and {dy} (↑), Gaussian-quantile spaced; the others at 0")

if cond:
    with tabs["Digit styles"], chrome.guard("Digit styles"):
        c = st.columns(2)
        ns = c[0].slider("Styles", 2, 16, 8, key="gen_ns", bind=IN_URL)
        sseed = 0 if chrome.presenter() else c[1].number_input("Seed", 0, 2**31 - 1, 0, key="gen_sseed", bind=IN_URL)
        widgets.digits(G.digit_styles(model, ns, sseed), cols=ns, caption="each column: one style, digits 0-9")
    with tabs["Restyle"], chrome.guard("Restyle"):
        ri = st.number_input("Test digit #", 0, len(test) - 1, 0, key="gen_ri", bind=IN_URL)
        widgets.digits(test.images[ri], scale=4, caption=f"test digit #{ri} (label {int(test.labels[ri])})")
        widgets.digits(G.restyle(model, test.images[ri], int(test.labels[ri])), cols=10, scale=4,
                 caption="its style written as each digit 0-9")
