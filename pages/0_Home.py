"""The home page: what the app does, the models on offer, the data in use, the other pages."""

import pandas as pd
import streamlit as st

import app_state as S
from aecore import VARIANTS, storage

S.page("Latent Lab")
st.markdown(
    f"See what an autoencoder learns. **Train** one of {len(VARIANTS)} autoencoder variants on MNIST, **draw** a digit "
    "and watch every model reconstruct it, explore the **latent space** as a 2-D map, **generate** new "
    "digits from the VAEs, and **compare** models side by side (including denoising)."
)

with S.guard("Listing models"):
    entries = S.models()
    st.subheader("Models")
    if not entries:
        st.info("No models yet: the pretrained checkpoints are not installed and you have not trained one. "
                "Train one in a few seconds on the Train page.")
    else:
        from aecore.compare import metrics_rows
        from aecore.metric_info import column_config

        df = pd.DataFrame(metrics_rows(entries))
        keep = ["model", "variant", "source", "latent", "dataset", "MSE", "PSNR dB", "kNN(5)", "-ELBO nats"]
        st.dataframe(df[[c for c in keep if c in df]], hide_index=True, placeholder="–",
                     column_config={k: st.column_config.NumberColumn(format=f)
                                    for k, f in column_config(keep).items()})
        n_pre = sum(e.source == "pretrained" for e in entries)
        where = f"`{storage.user_models_dir()}`"
        st.caption(f"{n_pre} pretrained, {len(entries) - n_pre} yours (saved in {where})."
                   + ("" if n_pre else " The pretrained checkpoints (assets/models) are not installed."))
    for e in S.unusable_models():
        st.warning(f"Not usable, hidden from every page: {e.path.name} ({e.source}): {e.error}")

with S.guard("Finding the dataset"):
    test = S.load_data("mnist", "test")
    st.subheader("Data")
    st.write(f"MNIST test split: **{len(test):,} images** from {test.source}.")
    if test.source.startswith("bundled sample"):
        st.caption("The bundled sample holds the whole test split and 10,000 of the 60,000 training digits. "
                   "Nothing is downloaded unless you ask: the full MNIST is about 11 MB.")
        if st.button("Download the full MNIST", icon=":material/download:", key="download_mnist"):
            S.download_dataset("mnist")

st.subheader("Pages")
others = S.PAGES[1:]
for col, page in zip(st.columns(len(others)), others, strict=True):
    with col:
        S.page_link(page.path)
        st.caption(page.blurb)
