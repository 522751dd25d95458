"""Serving a room: bad files in the folders the app reads, reloads during training, concurrent starts, failed
saves and out-of-range input each end in a one-line message, never a broken page or lost work."""

from __future__ import annotations

import errno
import json
import logging
import os

import numpy as np
import pytest
import torch
from app_support import PAGES, no_errors, run_page, shown
from safetensors.torch import save as st_save

from aecore import cache as array_cache
from aecore import catalog, checkpoint, jobs, projection, storage
from latent_lab.ui import chrome


def with_aecore_metadata(raw: str) -> bytes:
    return st_save({"w": torch.zeros(3)}, metadata={"aecore": raw})


def with_meta(data: bytes, **changes) -> bytes:
    from safetensors.torch import load

    meta = checkpoint.read_metadata(data)
    meta.update(changes)
    return st_save(load(data), metadata={"aecore": json.dumps(meta)})


@pytest.fixture
def bad_models(app_env):
    """Every kind of malformed file a shared models folder may hold, next to the good tiny models."""
    good = (app_env["models"] / "dense.safetensors").read_bytes()
    header_end = 8 + int.from_bytes(good[:8], "little")
    files = {
        "meta-list": with_aecore_metadata("[1, 2]"),
        "meta-null": with_aecore_metadata("null"),
        "meta-not-json": with_aecore_metadata("{oops"),
        "version-string": with_meta(good, format_version="1"),
        "dataset-path": with_meta(good, dataset="../../etc/passwd"),
        "metrics-list": with_meta(good, metrics=[1, 2]),
        "empty": b"",
        "truncated-header": good[:40],
        "png": b"\x89PNG\r\n\x1a\n" + bytes(100),
        "weights-cut": good[: header_end + 100],  # header intact: listed, but cannot be loaded
    }
    for name, data in files.items():
        (app_env["models"] / f"{name}.safetensors").write_bytes(data)
    return files


@pytest.mark.parametrize("path", PAGES)
def test_malformed_checkpoints_break_no_page(bad_models, path):
    at = run_page(path, latent_method="pca")
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_home_lists_each_unusable_file_with_its_reason(bad_models):
    at = run_page("app.py")
    warnings = " ".join(shown(w.value) for w in at.warning)
    for name in bad_models:
        if name != "weights-cut":
            assert f"{name}.safetensors" in warnings, name
    assert "not a JSON object" in warnings and "unknown dataset" in warnings and "a PNG image" in warnings
    assert "dense" in set(at.dataframe[0].value["model"])  # the good models are all still there


def test_one_unloadable_model_does_not_empty_compare(bad_models):
    at = run_page("pages/5_Compare.py")
    no_errors(at)
    assert any("Skipping weights-cut" in w.value and "cannot be read" in w.value for w in at.warning)
    captions = [c for im in at.image for c in im.captions]
    assert any(c.startswith("dense: mean MSE") for c in captions) and any(c.startswith("vae:") for c in captions)


@pytest.mark.parametrize("raw", ["[1, 2]", "null", '{"format": "aecore-checkpoint", "config": {}, '
                                                   '"format_version": "1", "variant": "dense"}'])
def test_uploading_malformed_metadata_is_one_line(app_env, raw):
    at = run_page("pages/1_Train.py")
    at.file_uploader(key="upload").set_value(("bad.safetensors", with_aecore_metadata(raw),
                                              "application/octet-stream")).run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("Not loaded: ") and "\n" not in at.error[0].value


def test_uploading_a_checkpoint_naming_a_strange_dataset_is_refused(app_env):
    good = (app_env["models"] / "dense.safetensors").read_bytes()
    with pytest.raises(checkpoint.CheckpointError, match="unknown dataset"):
        catalog.import_upload(with_meta(good, dataset="../../etc/passwd"), "evil.safetensors")


# -- caches -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 half a zip", "truncate"])
def test_a_damaged_cache_entry_is_recomputed(app_env, damage):
    codes = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
    first = projection.project_codes(codes, "sha-x", "data-y", "pca")
    path = array_cache.cache_dir() / f"{first.key}.npz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else damage)
    again = projection.project_codes(codes, "sha-x", "data-y", "pca")
    assert again.cached is None and again.saved and np.allclose(again.coords, first.coords, atol=1e-2)
    third = projection.project_codes(codes, "sha-x", "data-y", "pca")
    assert third.cached == "cache"  # the damaged file was replaced by a good one


def test_latent_page_survives_a_damaged_cache_file(app_env):
    state = {"latent_model": "dense", "latent_method": "pca"}
    no_errors(run_page("pages/3_Latent_space.py", **state))
    for path in app_env["cache"].rglob("*.npz"):
        path.write_bytes(b"")
    at = run_page("pages/3_Latent_space.py", **state)
    no_errors(at)
    assert any("computed now" in c.value and "cached" in c.value for c in at.caption)


def test_an_unwritable_cache_is_not_called_cached(app_env, monkeypatch):
    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(storage, "write_atomic", read_only)
    at = run_page("pages/3_Latent_space.py", latent_model="dense", latent_method="pca")
    no_errors(at)
    assert any("not cached (the cache folder cannot be written)" in c.value for c in at.caption)


# -- training jobs ----------------------------------------------------------------------------------

LONG = {"train.dense.default.epochs": 200, "train.dense.default.train_size": 2000, "train.dense.default.batch_size": 16}


def _wait_for_steps(job, timeout=60):
    import time

    deadline = time.time() + timeout
    while not job.snapshot()["steps"] and time.time() < deadline:
        time.sleep(0.05)


def test_a_reload_reattaches_to_the_running_job_and_can_stop_it(app_env):
    first = run_page("pages/1_Train.py", **LONG)
    first.button(key="start").click().run()
    job = jobs.BOARD.get(first.session_state["job_id"])
    _wait_for_steps(job)
    reloaded = run_page("pages/1_Train.py")  # a new browser session: what a reload or a second tab is
    no_errors(reloaded)
    assert reloaded.session_state["job_id"] == job.id
    assert reloaded.button(key="start").disabled
    assert any("dense running" in p.proto.text for p in reloaded.get("progress"))
    reloaded.button(key="stop").click().run()
    assert job.join(120) and job.status == jobs.STOPPED  # the orphan is stopped from the other tab
    assert len(jobs.BOARD.running()) == 0


def test_concurrent_starts_are_refused_with_a_message(app_env, monkeypatch):
    first = jobs.BOARD.start(jobs.TrainingJob("dense", {}, {"epochs": 200, "train_size": 2000, "batch_size": 16},
                                              storage.user_models_dir()))
    try:
        with pytest.raises(jobs.JobLimitReached, match="1 model\\(s\\) at a time and dense"):
            jobs.BOARD.start(jobs.TrainingJob("vae", {}, {"epochs": 1}, storage.user_models_dir()))
        assert [j.id for j in jobs.BOARD.running()] == [first.id]
        monkeypatch.setenv("AECORE_MAX_JOBS", "2")
        second = jobs.BOARD.start(jobs.TrainingJob("dense", {}, {"epochs": 1, "train_size": 200},
                                                   storage.user_models_dir()))
        assert second.join(120)
    finally:
        first.stop()
        first.join(120)


def test_the_training_thread_yields_the_cpu(app_env):
    job = jobs.TrainingJob("dense", {}, {"epochs": 1, "train_size": 200}, storage.user_models_dir()).start()
    assert job.join(120)
    nice = job.snapshot()["nice"]
    assert nice is None or nice >= os.getpriority(os.PRIO_PROCESS, 0) + 10 or nice == 19


def test_a_failed_save_keeps_the_model_and_says_why(app_env, monkeypatch):
    real = storage.write_atomic

    def disk_full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage, "write_atomic", disk_full)
    at = run_page("pages/1_Train.py", **{"train.dense.default.epochs": 1, "train.dense.default.train_size": 500})
    at.button(key="start").click().run()
    job = jobs.BOARD.get(at.session_state["job_id"])
    assert job.join(120) and job.status == jobs.DONE
    at.run()
    assert not at.exception
    assert any("Trained, but not saved" in e.value and "the disk is full" in e.value for e in at.error)
    assert at.get("download_button")  # the weights can be taken away
    model, meta = checkpoint.from_bytes(job.checkpoint_bytes())
    assert meta["variant"] == "dense"
    monkeypatch.setattr(storage, "write_atomic", real)  # space freed: retry
    at.button(key="retry_save").click().run()
    assert job.snapshot()["path"] and checkpoint.load(job.snapshot()["path"])[1]["variant"] == "dense"
    assert job.checkpoint_bytes() is None


def test_out_of_range_input_is_refused_not_replaced(app_env):
    at = run_page("pages/1_Train.py")
    at.number_input(key="train.dense.default.lr").set_value(5.0).run()
    assert not at.exception
    assert any("lr = 5 is out of range" in e.value for e in at.error)
    at.button(key="start").click().run()
    assert any(e.value.startswith("Not started, bad hyperparameters: lr = 5") for e in at.error)
    assert "job_id" not in at.session_state and not jobs.BOARD.running()


def test_a_model_far_worse_than_the_pretrained_one_gets_a_warning(app_env):
    at = run_page("pages/1_Train.py", **{"train.dense.default.epochs": 1, "train.dense.default.train_size": 300,
                                    "train.dense.default.lr": 1.0})
    at.button(key="start").click().run()
    job = jobs.BOARD.get(at.session_state["job_id"])
    assert job.join(120)
    at.run()
    warning = " ".join(w.value for w in at.warning)
    assert "that of the pretrained dense" in warning and "lr 1 (pretrained: 0.005)" in warning


# -- errors ------------------------------------------------------------------------------------------

def test_unexpected_errors_are_one_line_on_the_page_and_a_traceback_in_the_log(caplog):
    log = logging.getLogger("latent_lab")
    log.addHandler(caplog.handler)
    try:
        with chrome.guard("Drawing"):
            raise KeyError("boom")
    finally:
        log.removeHandler(caplog.handler)
    record = next(r for r in caplog.records if r.name == "latent_lab")
    assert record.exc_info and "Drawing failed" in record.getMessage()


def test_the_browser_never_gets_a_traceback():
    from latent_lab.ui import serve

    assert serve.OPTIONS["client.showErrorDetails"] == "type"


def test_numba_caches_in_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    storage.third_party_caches()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "numba")
