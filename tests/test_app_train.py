"""Train page: a one-epoch run on a small slice, Stop, upload and download (Streamlit AppTest)."""

import time

from app_support import no_errors, page
from streamlit.testing.v1 import AppTest

from aecore import catalog, jobs, pipeline


def train_page(**state):
    at = AppTest.from_file(page("pages/1_Train.py"), default_timeout=120)
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def test_one_epoch_run_saves_a_model_that_every_page_sees(app_env):
    at = train_page(**{"train.dense.default.epochs": 1, "train.dense.default.train_size": 1000})
    no_errors(at)
    before = {e.name for e in catalog.list_models()}
    at.button(key="start").click().run()
    no_errors(at)
    job = jobs.BOARD.get(at.session_state["job_id"])
    assert job.join(120) and job.status == jobs.DONE, job.snapshot()["message"]
    at.run()
    no_errors(at)
    assert any("It is now on every page" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) >= 1  # the loss curves
    captions = [c for im in at.image for c in im.captions]
    assert "their reconstructions, as training goes" in captions
    new = {e.name for e in catalog.list_models()} - before
    assert len(new) == 1 and next(iter(new)).startswith("dense-")
    home = AppTest.from_file(page("app.py"), default_timeout=60).run()
    assert new <= set(home.dataframe[0].value["model"])


def test_model_hyperparameters_are_widgets(app_env):
    at = train_page(train_variant="vae")
    no_errors(at)
    labels = {w.label for w in at.number_input}
    assert {"latent dim", "hidden1", "hidden2", "beta", "epochs", "batch size", "lr", "train size"} <= labels
    at.number_input(key="model.vae.default.latent_dim").set_value(4).run()
    no_errors(at)


def test_stop_keeps_a_valid_model(app_env):
    at = train_page(**{"train.dense.default.epochs": 200, "train.dense.default.train_size": 2000,
                          "train.dense.default.batch_size": 16, "train.dense.default.max_seconds": 600.0})
    at.button(key="start").click().run()
    job = jobs.BOARD.get(at.session_state["job_id"])
    deadline = time.time() + 60
    while not job.snapshot()["steps"] and time.time() < deadline:
        time.sleep(0.05)
    at.run()
    # a run limited by time says how long it may take, not the step count it will not reach
    assert "of at most 600 s" in at.get("progress")[0].proto.text
    at.button(key="stop").click().run()
    no_errors(at)
    assert job.join(120) and job.status == jobs.STOPPED
    at.run()
    assert any("stopped early" in s.value for s in at.success)
    from aecore import checkpoint

    checkpoint.load(job.snapshot()["path"])


def test_upload_valid_and_foreign_checkpoints(app_env, tmp_path):
    good = (app_env["models"] / "vae.safetensors").read_bytes()
    (app_env["models"] / "vae.safetensors").unlink()
    at = train_page()
    at.file_uploader(key="upload").set_value(("someone-elses.safetensors", good, "application/octet-stream")).run()
    no_errors(at)
    assert any("Added someone-elses (vae)" in s.value for s in at.success)
    assert "someone-elses" in {e.name for e in catalog.list_models()}
    at = train_page()
    at.file_uploader(key="upload").set_value(("again.safetensors", good, "application/octet-stream")).run()
    assert any("already here, as someone-elses" in s.value for s in at.success)
    import torch
    from safetensors.torch import save

    foreign = save({"w": torch.zeros(3)}, metadata={"author": "not aecore"})
    for blob in (foreign, b"garbage bytes", b"PK\x03\x04old torch zip"):
        at = train_page()
        at.file_uploader(key="upload").set_value(("x.safetensors", blob, "application/octet-stream")).run()
        assert not at.exception
        assert len(at.error) == 1 and at.error[0].value.startswith("Not loaded:")
        assert "\n" not in at.error[0].value


def test_download_button_serves_the_file(app_env):
    at = train_page(download_model="dense")
    no_errors(at)
    assert at.get("download_button")


def test_diverged_training_is_one_clear_message(app_env, monkeypatch):
    from aecore.training import TrainingDiverged

    def diverge(*a, **k):
        raise TrainingDiverged("training diverged (loss is not finite) at epoch 1, step 3: the learning rate "
                               "(1) is probably too high: try 0.1")

    monkeypatch.setattr(pipeline, "train", diverge)
    before = sorted(app_env["models"].iterdir())
    at = train_page(**{"train.dense.default.epochs": 1, "train.dense.default.train_size": 500})
    at.button(key="start").click().run()
    assert jobs.BOARD.get(at.session_state["job_id"]).join(60)
    at.run()
    assert not at.exception
    assert any("diverged" in e.value and "learning rate" in e.value for e in at.error)
    assert sorted(app_env["models"].iterdir()) == before
