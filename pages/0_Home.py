"""The home page: first what the models do (live pictures from the shipped models), then the models on offer,
the data in use and the other pages."""

import pandas as pd
import streamlit as st

from aecore import VARIANTS, storage
from latent_lab.ui import chrome, resources, widgets

chrome.page("Latent Lab")
st.markdown(f"**See what an autoencoder learns.** {len(VARIANTS)} kinds of autoencoder, trained on handwritten "
            "digits: each squeezes a 28×28 picture into a few numbers (its *code*) and rebuilds it from them.")

with chrome.guard("Showcase"):
    show = resources.showcase()
    if show is None:
        st.info("The pretrained models are not installed: train one on the Train page to see it here.")
    else:
        c1, c2, c3, c4 = st.columns([1.3, 1.2, 1, 1])
        with c1:
            st.markdown("**One digit, rebuilt by every model**")
            widgets.digits(show["digit_and_reconstructions"], cols=5, scale=3,
                           caption="top left: a test digit; then each model's rebuilt copy ("
                                   + ", ".join(show["reconstruction_names"]) + ")",
                           alt="a handwritten test digit, then the copy of it that each model rebuilt")
        with c2:
            st.markdown("**Every test digit, placed by its code**")
            widgets.picture(show["map_png"], caption=f"{show['map_label']} of {show['map_model']}'s codes: "
                                              "one dot per digit, each group coloured and numbered by its digit",
                            alt="a map of 10,000 test digits as dots that gather in groups, one per digit 0 to 9, "
                                "each numbered")
        with c3:
            st.markdown("**New digits, dreamt up**")
            widgets.digits(show["samples"], cols=4, scale=2,
                           caption=f"{show['sample_model']} decodes random codes into digits nobody wrote",
                           alt="16 made-up handwritten digits in four rows of four")
        with c4:
            st.markdown("**What a model finds strange**")
            widgets.digits(show["strangest"], cols=4, scale=2,
                           caption=f"the test digits {show['anomaly_model']} rebuilds worst: its anomalies",
                           alt="eight unusual handwritten digits: odd shapes, thick strokes, stray marks")

st.subheader("Pages")
others = chrome.PAGES[1:]
for start in range(0, len(others), 5):  # rows of five, so each blurb has room
    for col, page in zip(st.columns(5), others[start: start + 5], strict=False):
        with col:
            chrome.page_link(page.path)
            st.caption(page.blurb)

with chrome.guard("Listing models"):
    entries = resources.models()
    st.subheader("Models")
    if not entries:
        st.info("No models yet: the pretrained checkpoints are not installed and you have not trained one. "
                "Train one in a few seconds on the Train page.")
    elif not chrome.presenter():  # raw metrics are for developers; Compare has them all
        from aecore.compare import column_config, metrics_rows, nats_note

        df = pd.DataFrame(metrics_rows(entries))
        keep = ["model", "variant", "source", "latent", "dataset", "pixels", "MSE", "PSNR dB", "kNN(5)", "-ELBO nats"]
        st.dataframe(df[[c for c in keep if c in df]], hide_index=True, placeholder="–",
                     column_config={k: st.column_config.NumberColumn(format=f)
                                    for k, f in column_config(keep).items()})
        if note := nats_note(entries):
            st.caption(note)
    n_pre = sum(e.source == "pretrained" for e in entries)
    where = f" (saved in `{storage.user_models_dir()}`)" if chrome.shows_machine() else ""
    st.caption(f"{n_pre} pretrained, {len(entries) - n_pre} yours{where}.")
    for e in resources.unusable_models():
        st.warning(f"Not usable, hidden from every page: {chrome.plain(e.path.name)} ({e.source}): "
                   f"{chrome.plain(e.error)}")

with chrome.guard("Finding the dataset"):
    test = resources.load_data("mnist", "test")
    st.subheader("Data")
    st.write(f"MNIST test split: **{len(test):,} images** from {chrome.plain(test.source)}.")
    if test.source.startswith("bundled sample"):
        st.caption("The bundled sample holds the whole test split and 10,000 of the 60,000 training digits. "
                   "Nothing is downloaded unless you ask: the full MNIST is about 11 MB.")
        if st.button("Download the full MNIST", icon=":material/download:", key="download_mnist"):
            widgets.download_dataset("mnist")
