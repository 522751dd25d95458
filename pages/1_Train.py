import streamlit as st

from aecore import VARIANTS, catalog, jobs, storage
from aecore.config import ConfigError
from aecore.data import DATASETS
from aecore.errors import UserError
from aecore.train import PRESETS, TrainConfig, preset
from latent_lab.ui import chrome, figures, resources, view, widgets

chrome.page("Train")
job = view.current_job()
busy = job is not None and not job.finished

with chrome.guard("Training settings"):
    c1, c2, c3 = st.columns(3)
    variant = c1.selectbox("Variant", list(VARIANTS), key="train_variant", disabled=busy)
    dataset = c2.selectbox("Dataset", DATASETS, key="train_dataset", disabled=busy)
    start_from = c3.selectbox("Start from", list(PRESETS), format_func=PRESETS.get, key="train_preset",
                              index=list(PRESETS).index("quick" if chrome.presenter() else "default"),
                              disabled=busy, help="quick: near the shipped model's quality in about a minute")
    cls = VARIANTS[variant]
    st.caption(f"{cls.description}. Trains on: {resources.device_name()}.")
    model_cfg, train_defaults = preset(cls, start_from)
    # The plain defaults train on a 5,000-image slice: seconds, for a first look.
    train_cfg = {**train_defaults.__dict__, **({"train_size": 5000} if start_from == "default" else {})}
    if chrome.presenter():  # no hyperparameters on a projector: the preset as it is
        st.caption(f"Presenter mode: {PRESETS[start_from]}, {train_cfg['epochs']} epochs.")
    else:
        st.markdown("**Model hyperparameters**")
        model_cfg = widgets.config_widgets(cls.config_class, key=f"model.{variant}.{start_from}", defaults=model_cfg)
        st.markdown("**Training**")
        train_cfg = widgets.config_widgets(TrainConfig, key=f"train.{variant}.{start_from}", defaults=train_cfg,
                                           skip=("device", "dataset"), columns=4)
    if st.button("Start training", type="primary", disabled=busy, key="start"):
        try:
            new = jobs.TrainingJob(variant, model_cfg, {**train_cfg, "dataset": dataset}, storage.user_models_dir())
            job = jobs.BOARD.start(new)
        except ConfigError as e:
            st.error(f"Not started, bad hyperparameters: {e}")
        except UserError as e:
            st.error(f"Not started: {e}")
        else:
            view.JOB_ID.set(job.id)
            st.session_state["job_announced"] = False
            busy = True


@st.fragment(run_every=2.0 if busy else None)  # a redraw a second costs every watching browser its CPU
def live():
    job = view.current_job()
    if job is None:
        return
    snap = job.snapshot()
    status = snap["status"]
    limit = job.train_config.max_seconds  # a run limited by time ends before its planned steps: show the time
    where = (f"step {snap['step']:,}, {snap['seconds']:.0f} of at most {limit:.0f} s" if limit else
             f"step {snap['step']:,}/{snap['total_steps']:,}, {snap['seconds']:.0f} s")
    st.progress(min(1.0, snap["fraction"]), text=f"{job.variant} {status}: {snap['message']} — epoch "
                f"{snap['epoch']}, {where}")
    if status == jobs.RUNNING and st.button("Stop", key="stop", help="any tab on this server can stop a run"):
        job.stop()
    if snap["steps"]:
        st.plotly_chart(figures.loss_figure(snap), key="curves")
    if snap["preview"] is not None:
        widgets.digits(snap["originals"], caption="test digits")
        widgets.digits(snap["preview"], caption="their reconstructions, as training goes")
    if snap["evolution"] is not None:  # a map per epoch; when training ends, a slider replays them
        widgets.evolution_map(snap["evolution"], key=f"evolution.{job.id}", replay=status in jobs.FINISHED)
    if status == jobs.FAILED:
        st.error(snap["message"])
    elif snap["save_error"]:
        st.error(f"Trained, but not saved: {snap['save_error']}. The model is kept here: retry, or download it.")
        a, b = st.columns(2)
        if a.button("Retry saving", key="retry_save"):
            job.retry_save()
            st.rerun(scope="app")
        b.download_button("Download it", data=job.checkpoint_bytes() or b"", key="download_unsaved",
                          file_name=f"{job.variant}.safetensors", mime="application/octet-stream")
    elif status in (jobs.DONE, jobs.STOPPED):
        st.success(f"{snap['message']}. It is now on every page. Test MSE {snap['metrics'].get('test_mse', 0):.5f}.")
        if snap["warning"]:
            st.warning(snap["warning"])
    if job.finished and not st.session_state.get("job_announced"):
        st.session_state["job_announced"] = True
        st.rerun(scope="app")


live()

st.divider()
c1, c2 = st.columns(2)
with c1, chrome.guard("Upload"):
    st.subheader("Upload a checkpoint")
    up = st.file_uploader("aecore .safetensors checkpoint", type=["safetensors"], key="upload")
    if up is not None and st.session_state.get("uploaded_id") != up.file_id:
        try:
            entry, added = catalog.import_upload(up.getvalue(), up.name)
        except UserError as e:
            st.error(f"Not loaded: {e}")
        else:
            st.session_state["uploaded_id"] = up.file_id
            st.success(f"Added {entry.name} ({entry.variant}): it is now on every page." if added
                       else f"This model is already here, as {entry.name}.")
with c2, chrome.guard("Download"):
    st.subheader("Download a model")
    entries = resources.models()
    if entries:
        e = widgets.pick_model("Model", entries, key="download_model")
        st.download_button(f"Download {e.path.name} ({e.size / 1e6:.1f} MB)", data=e.path.read_bytes(),
                           file_name=e.path.name, mime="application/octet-stream", key="download")
        if (ev := resources.evolution(e)) is not None:
            with st.expander("How its clusters formed, epoch by epoch"):
                widgets.evolution_map(ev, key=f"evolution.{e.sha256[:12]}")
    else:
        st.info("No models yet.")
