import time

import pytest

from aecore import catalog, checkpoint, jobs, pipeline, storage
from aecore.config import ConfigError
from aecore.training import TrainingDiverged

SMALL = {"epochs": 1, "train_size": 500, "batch_size": 50}


def test_job_trains_saves_and_appears_in_catalog(app_env):
    before = {e.name for e in catalog.list_models()}
    job = jobs.TrainingJob("dense", {"latent_dim": 8}, SMALL, storage.user_models_dir()).start()
    assert job.join(120)
    snap = job.snapshot()
    assert snap["status"] == jobs.DONE, snap["message"]
    assert snap["steps"] and snap["epochs"][0]["val"]["loss"] > 0
    assert snap["preview"].shape == (10, 1, 28, 28) and snap["originals"].shape == (10, 1, 28, 28)
    model, meta = checkpoint.load(snap["path"])
    assert meta["variant"] == "dense" and meta["metrics"]["test_mse"] > 0 and meta["history"]["epochs"]
    new = {e.name for e in catalog.list_models()} - before
    assert len(new) == 1
    assert not list(app_env["models"].glob(".*.tmp"))  # atomic write leaves no temp file


def test_a_noise_warmup_is_marked_on_the_loss_curves(app_env):
    """While the denoising noise still grows, its training loss may rise: the live curves shade that stretch,
    up to the step where the warm-up ended, and say why; a run without a warm-up has no shading."""
    from latent_lab.ui import figures

    job = jobs.TrainingJob("denoising", {"noise_warmup": 0.5}, {"epochs": 2, "train_size": 500, "batch_size": 50},
                           storage.user_models_dir(), report_every=1).start()
    assert job.join(120)
    snap = job.snapshot()
    assert snap["status"] == jobs.DONE, snap["message"]
    assert snap["warmup"][0] == 0.5 and snap["warmup_end"] == 10  # half of the 20 steps
    (band,) = figures.loss_figure(snap).layout.shapes
    assert (band.x0, band.x1) == (0, 10)
    assert "noise" in figures.loss_figure(snap).layout.annotations[0].text
    plain = jobs.TrainingJob("dense", {}, SMALL, storage.user_models_dir()).start()
    assert plain.join(120)
    snap = plain.snapshot()
    assert snap["warmup"] is None and not figures.loss_figure(snap).layout.shapes


def test_stop_ends_early_with_a_valid_model(app_env):
    job = jobs.TrainingJob("dense", {}, {"epochs": 200, "train_size": 2000, "batch_size": 16},
                           storage.user_models_dir(), report_every=5)
    job.start()
    deadline = time.time() + 60
    while not job.snapshot()["steps"] and time.time() < deadline:
        time.sleep(0.05)
    job.stop()
    assert job.join(120)
    snap = job.snapshot()
    assert snap["status"] == jobs.STOPPED, snap["message"]
    assert snap["step"] < snap["total_steps"]
    model, meta = checkpoint.load(snap["path"])
    assert meta["metrics"]["stopped_early"] is True


@pytest.mark.parametrize("variant,model_cfg,train_cfg", [
    ("vae", {"beta": 1000.0}, {}),
    ("dense", {"latent_dim": 1}, {}),
    ("dense", {}, {"lr": 5.0}),
    ("dense", {}, {"epochs": 0}),
    ("dense", {"colour": 3}, {}),
])
def test_bad_hyperparameters_fail_before_starting(app_env, variant, model_cfg, train_cfg):
    with pytest.raises(ConfigError) as e:
        jobs.TrainingJob(variant, model_cfg, train_cfg, storage.user_models_dir())
    assert str(e.value)


def test_divergence_is_reported_and_nothing_saved(app_env, monkeypatch):
    def diverge(*a, **k):
        raise TrainingDiverged("training diverged (loss is not finite) at epoch 1, step 3: lower the lr")

    monkeypatch.setattr(pipeline, "train", diverge)
    before = sorted(app_env["models"].iterdir())
    job = jobs.TrainingJob("dense", {}, SMALL, storage.user_models_dir()).start()
    assert job.join(60)
    snap = job.snapshot()
    assert snap["status"] == jobs.FAILED and "diverged" in snap["message"] and snap["path"] is None
    assert sorted(app_env["models"].iterdir()) == before


def test_catalog_lists_reads_headers_and_skips_broken_files(app_env):
    entries = catalog.list_models()
    mine = {e.name: e for e in entries if e.source == "yours"}
    assert {"dense", "vae", "cvae", "denoising"} <= set(mine)
    vae = mine["vae"]
    assert vae.variant == "vae" and vae.generative and not vae.conditional and vae.latent_dim == 8
    assert "history" not in vae.meta and vae.metrics["test_mse"] > 0 and len(vae.sha256) == 64
    assert mine["cvae"].conditional
    (app_env["models"] / "junk.safetensors").write_bytes(b"not a checkpoint")
    assert "junk" not in {e.name for e in catalog.list_models()}
    broken = [e for e in catalog.list_models(include_broken=True) if e.name == "junk"]
    assert broken and broken[0].error
    model, meta = catalog.load(vae)
    assert meta["variant"] == "vae"


def test_import_upload_validates_and_dedupes(app_env, tmp_path):
    data = (app_env["models"] / "dense.safetensors").read_bytes()
    entry, added = catalog.import_upload(data, "dense.safetensors")
    assert entry.name == "dense" and not added  # same content already there: no copy
    other = tmp_path / "elsewhere"
    entry, added = catalog.import_upload(data, "my model!.safetensors", folder=other)
    assert added and entry.path.parent == other and entry.name == "my-model" and entry.variant == "dense"
    for bad in (b"", b"hello world", b"PK\x03\x04zip", data[: len(data) // 2]):
        with pytest.raises(checkpoint.CheckpointError):
            catalog.import_upload(bad, "bad.safetensors", folder=other)
    assert len(list(other.glob("*.safetensors"))) == 1


def test_checkpoint_whose_header_length_looks_like_a_pickle_still_loads(app_env):
    from aecore import build

    model = build("dense", {"latent_dim": 4})
    for pad in range(400):  # find metadata whose header length's first byte is 0x80 (the pickle magic)
        data = checkpoint.to_bytes(model, note="x" * pad)
        if data[:1] == b"\x80":
            break
    assert data[:1] == b"\x80"
    checkpoint.from_bytes(data)
    path = app_env["models"] / "odd.safetensors"
    path.write_bytes(data)
    assert "odd" in {e.name for e in catalog.list_models()}
