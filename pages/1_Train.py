import streamlit as st

from aecore import VARIANTS, jobs, storage
from aecore.budget import BudgetExceeded
from aecore.config import ConfigError
from aecore.data import DATASETS
from aecore.errors import UserError
from aecore.training import PRESETS, TrainConfig, preset
from latent_lab.ui import chrome, resources, training, view, widgets

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
    st.caption(f"{cls.description}." + (f" Trains on: {resources.device_name()}." if chrome.shows_machine() else ""))
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
        except BudgetExceeded as e:  # settings that are valid but too big for a shared server
            st.error(f"Not started: {chrome.plain(e)}")
        except ConfigError as e:
            st.error(f"Not started, bad hyperparameters: {chrome.plain(e)}")
        except UserError as e:
            st.error(f"Not started: {chrome.plain(e)}")
        else:
            view.JOB_ID.set(job.id)
            st.session_state["job_announced"] = False
            busy = True


training.live_job(busy)  # progress, loss curves, reconstructions and the map, redrawn while it trains

if not chrome.presenter():  # files and folders are for developers, not for a room
    st.divider()
    training.model_files()  # upload, download and delete checkpoints, with the models folder's quota
