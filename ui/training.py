"""The Train page's panels: the job this tab watches, redrawn while it trains, and the model files (upload,
download, delete) with the models folder's quota."""

from __future__ import annotations

import streamlit as st

from aecore import catalog, checkpoint, jobs, storage
from aecore.errors import UserError
from latent_lab.ui import chrome, figures, resources, view, widgets


def live_job(busy: bool) -> None:
    """The training job this tab shows: progress, Stop, loss curves, reconstructions and the evolving map; it
    redraws itself every 2 s while a job runs (a redraw a second costs every watching browser its CPU)."""

    @st.fragment(run_every=2.0 if busy else None)  # a redraw a second costs every watching browser its CPU
    def live() -> None:
        job = view.current_job()
        if job is None:
            if view.JOB_ID.get():  # the server forgets finished runs after a while; the model stays
                st.caption("Your last run finished a while ago: its model is under your models, on every page.")
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
            widgets.chart(figures.loss_figure(snap), key="curves",
                          alt="line chart of every loss term against the training step, train and validation")
        if snap["preview"] is not None:
            widgets.digits(snap["originals"], caption="test digits")
            widgets.digits(snap["preview"], caption="their reconstructions, as training goes")
        if snap["evolution"] is not None:  # a map per epoch; when training ends, a slider replays them
            widgets.evolution_map(snap["evolution"], key=f"evolution.{job.id}", replay=status in jobs.FINISHED)
        if status == jobs.FAILED:
            st.error(chrome.plain(snap["message"]))
        elif snap["save_error"]:
            st.error(f"Trained, but not saved: {chrome.plain(snap['save_error'])}. The model is kept here: retry, "
                     "or download it.")
            a, b = st.columns(2)
            if a.button("Retry saving", key="retry_save"):
                job.retry_save()
                st.rerun(scope="app")
            b.download_button("Download it", data=job.checkpoint_bytes() or b"", key="download_unsaved",
                              file_name=f"{job.variant}.safetensors", mime="application/octet-stream")
        elif status in (jobs.DONE, jobs.STOPPED):
            mse = snap["metrics"].get("test_mse", 0)
            st.success(f"{chrome.plain(snap['message'])}. It is now on every page. Test MSE {mse:.5f}.")
            if snap["warning"]:
                st.warning(snap["warning"])
        if job.finished and not st.session_state.get("job_announced"):
            st.session_state["job_announced"] = True
            st.rerun(scope="app")

    live()


def model_files() -> None:
    """Upload a checkpoint, download any model, delete one of yours; the quota of the models folder."""
    c1, c2 = st.columns(2)
    with c1, chrome.guard("Upload"):
        st.subheader("Upload a checkpoint")
        up = st.file_uploader("aecore .safetensors checkpoint", type=["safetensors"], key="upload",
                              max_upload_size=checkpoint.MAX_BYTES // 2**20)
        if up is not None and st.session_state.get("uploaded_id") != up.file_id:
            try:
                entry, added = catalog.import_upload(up.getvalue(), up.name)
            except UserError as e:
                st.error(f"Not loaded: {chrome.plain(e)}")
            else:
                st.session_state["uploaded_id"] = up.file_id
                st.success(f"Added {entry.name} ({entry.variant}): it is now on every page." if added
                           else f"This model is already here, as {entry.name}.")
        used, files = catalog.usage()
        quota, most = storage.models_quota()
        st.caption(f"Your models: {files} of at most {most} files, {used / 2**20:.0f} of {quota / 2**20:.0f} MB "
                   "(AECORE_MODELS_QUOTA_MB and AECORE_MODELS_QUOTA_FILES set the quota).")
    with c2, chrome.guard("Your models"):
        st.subheader("Download or delete a model")
        entries = resources.models()
        if not entries:
            st.info("No models yet.")
            return
        e = widgets.pick_model("Model", entries, key="download_model")
        st.download_button(f"Download {e.path.name} ({e.size / 1e6:.1f} MB)", data=e.path.read_bytes(),
                           file_name=e.path.name, mime="application/octet-stream", key="download")
        if e.source == "yours" and st.button(f"Delete {e.name}", icon=":material/delete:", key="delete_model",
                                             help="removes the file from your models folder, for every page"):
            catalog.delete_model(e)
            st.session_state.pop("download_model", None)
            st.rerun()
        if (ev := resources.evolution(e)) is not None:
            with st.expander("How its clusters formed, epoch by epoch"):
                widgets.evolution_map(ev, key=f"evolution.{e.sha256[:12]}")
