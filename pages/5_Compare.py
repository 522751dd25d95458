import pandas as pd
import plotly.express as px
import streamlit as st

from aecore import compare
from aecore.compare import better_directions, column_config
from aecore.metric_info import METRICS
from aecore.noise import NOISE_KINDS
from latent_lab.ui import chrome, resources, widgets
from latent_lab.ui.view import IN_URL

chrome.page("Compare")
entries = resources.models()
widgets.require(entries)

with chrome.guard("Metrics"):
    st.subheader("Metrics")
    missing = [e for e in entries if "psnr" not in e.metrics]
    extra = {}
    if missing and st.toggle(f"Measure the {len(missing)} model(s) saved without metrics (2,000 test digits)",
                             key="measure_missing"):
        extra = {e.name: resources.quick_metrics(e) for e in missing}
    df = pd.DataFrame(compare.metrics_rows(entries, extra))
    df = df.dropna(axis=1, how="all")
    if not chrome.presenter():  # the raw table is for developers; the chart tells the room
        st.dataframe(df, hide_index=True, key="metrics_table", placeholder="–",
                     column_config={k: st.column_config.NumberColumn(format=f) for k, f in column_config(df).items()})
    nats = compare.nats_note(entries, cite=not chrome.presenter()) or ""
    st.caption("From each checkpoint's metadata (pretrained models: full test split; models trained here: "
               "a 2,000-image test slice). " + better_directions(df) + " " + nats)
    metric = st.selectbox("Chart", [m.label for m in METRICS if m.headline and m.label in df], key="compare_metric",
                          bind=IN_URL)
    if metric:
        widgets.chart(px.bar(df.dropna(subset=[metric]), x="model", y=metric, color="variant", height=320),
                      key="metric_chart", alt=f"bar chart of each model's {metric}, coloured by variant")

with chrome.guard("Same digits, every model"):
    st.subheader("The same test digits through every model")
    c1, c2 = st.columns(2)
    n = c1.slider("Digits", 4, 16, 10, key="compare_n", bind=IN_URL)
    seed = 0 if chrome.presenter() else c2.number_input("Seed", 0, 10_000, 0, key="compare_seed", bind=IN_URL)
    by_data: dict[str, list] = {}
    for e in entries:
        by_data.setdefault(e.dataset, []).append(e)
    for dataset, group in by_data.items():
        test = resources.load_data(dataset, "test")
        idx = compare.sample_indices(n, len(test), seed)
        x, y = test.images[idx], test.labels[idx]
        widgets.digits(x, cols=n, caption=f"originals ({dataset} test split)")
        out = compare.reconstructions(widgets.loadable_models(group), x, y)
        for name, r in out.items():
            widgets.digits(r["images"], cols=n, caption=f"{name}: mean MSE {float(r['mse'].mean()):.4f}")

with chrome.guard("Denoising"):
    st.subheader("Denoising")
    plain = [e for e in entries if not e.can("denoises")]
    noisy_models = [e for e in entries if e.can("denoises")]
    if not plain or not noisy_models:
        st.info("This view needs a denoising model and one other (e.g. dense): train them on the Train page.")
    else:
        c = st.columns(4)
        kind = c[0].selectbox("Noise", NOISE_KINDS, key="noise_kind", bind=IN_URL)
        level = c[1].slider("Level", 0.0, 1.0, 0.5, 0.05, key="noise_level", bind=IN_URL)
        with c[2]:
            a = widgets.pick_model("Plain model", plain, key="noise_plain", url="plain")
        with c[3]:
            b = widgets.pick_model("Denoising model", noisy_models, key="noise_denoising", url="denoising")
        test = resources.load_data(a.dataset, "test")
        idx = compare.sample_indices(10, len(test), seed)
        res = compare.denoise_demo({a.name: resources.model(a), b.name: resources.model(b)},
                                   test.images[idx], test.labels[idx], kind, level, seed)
        widgets.digits(test.images[idx], cols=10, caption="clean")
        widgets.digits(res["noisy"], cols=10, caption=f"noisy input: PSNR {res['noisy_psnr']:.1f} dB")
        cols = st.columns(2)
        for col, (name, r) in zip(cols, res["models"].items(), strict=True):
            with col:
                st.metric(name, f"{r['psnr']:.1f} dB PSNR", f"{r['psnr'] - res['noisy_psnr']:+.1f} dB vs noisy")
                widgets.digits(r["images"], cols=5, caption=f"{name}: MSE {r['mse']:.4f}")
