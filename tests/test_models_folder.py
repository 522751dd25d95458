"""Your models folder, shared by everyone the app serves: a quota, no duplicates, deleting only your own, names
that never collide, caches that heal, and messages that never show a server folder."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hostile_checkpoints_support import GOOD, empty_models_folder, model_bytes, one_line

from aecore import build, cache, catalog, checkpoint, jobs, storage
from aecore.catalog import ModelsFolderError, QuotaExceeded
from aecore.checkpoint import CheckpointError


@pytest.fixture
def folder(tmp_path, monkeypatch):
    return empty_models_folder(tmp_path, monkeypatch)


def test_the_file_quota_refuses_uploads_and_training_saves(folder, monkeypatch):
    monkeypatch.setenv("AECORE_MODELS_QUOTA_FILES", "2")
    for seed in (1, 2):
        assert catalog.import_upload(model_bytes(seed), "m.safetensors")[1]
    with pytest.raises(QuotaExceeded) as e:
        catalog.import_upload(model_bytes(3), "m.safetensors")
    msg = one_line(e.value)
    assert "2 models" in msg and "delete" in msg and "AECORE_MODELS_QUOTA_FILES" in msg
    assert sorted(p.name for p in folder.iterdir()) == ["m-2.safetensors", "m.safetensors"]
    job = jobs.TrainingJob("dense", {}, {"epochs": 1}, folder)
    job._checkpoint = model_bytes(4)  # as a finished run leaves it, without training one here
    assert job.retry_save() is None and "models folder is full" in job.snapshot()["save_error"]
    assert job.checkpoint_bytes() is not None  # kept: it can be downloaded, or saved once space is freed
    catalog.delete_model(next(e for e in catalog.list_models() if e.name == "m"))
    assert job.retry_save() and job.checkpoint_bytes() is None


def test_the_size_quota_refuses_a_large_upload(folder, monkeypatch):
    monkeypatch.setenv("AECORE_MODELS_QUOTA_MB", "1")
    big = checkpoint.to_bytes(build("deep"))
    assert len(big) > 1024 * 1024
    with pytest.raises(QuotaExceeded, match="AECORE_MODELS_QUOTA_MB"):
        catalog.import_upload(big, "deep.safetensors")
    assert not list(folder.iterdir())
    monkeypatch.setenv("AECORE_MODELS_QUOTA_MB", "not a number")  # ignored: the default holds
    assert storage.models_quota() == (storage.MODELS_QUOTA_MB * 1024 * 1024, storage.MODELS_QUOTA_FILES)


def test_the_same_bytes_are_stored_once(folder):
    entry, added = catalog.import_upload(GOOD, "a.safetensors")
    again, added_again = catalog.import_upload(GOOD, "b.safetensors")
    assert added and not added_again and again.path == entry.path
    shipped = next(e for e in catalog.list_models() if e.source == "pretrained")
    same, added = catalog.import_upload(shipped.path.read_bytes(), "copy.safetensors")
    assert not added and same.source == "pretrained" and same.name == shipped.name
    assert [p.name for p in folder.iterdir()] == ["a.safetensors"]


def test_delete_removes_only_your_own_models(folder, tmp_path):
    entry, _ = catalog.import_upload(GOOD, "mine.safetensors")
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes(GOOD)
    (folder / "link.safetensors").symlink_to(outside)
    pretrained = next(e for e in catalog.list_models() if e.source == "pretrained")
    tricks = [pretrained, catalog.ModelEntry("outside", outside, "yours"),
              catalog.ModelEntry("up", folder / ".." / "outside.safetensors", "yours"),
              catalog.ModelEntry("pre", pretrained.path, "yours")]
    for trick in tricks:
        with pytest.raises(ModelsFolderError, match="only your own models") as e:
            catalog.delete_model(trick)
        one_line(e.value)
    assert pretrained.path.is_file() and outside.read_bytes() == GOOD
    catalog.delete_model(next(e for e in catalog.list_models() if e.name == "link"))
    assert outside.read_bytes() == GOOD  # the link went, never its target
    catalog.delete_model(entry)
    assert not entry.path.exists() and "mine" not in {e.name for e in catalog.list_models()}
    with pytest.raises(ModelsFolderError, match="already gone"):
        catalog.delete_model(entry)


# -- races, caches, paths -------------------------------------------------------------------------

def _at_once(n: int, work) -> list:
    start, results = threading.Barrier(n), [None] * n

    def run(i):
        start.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_uploads_and_saves_of_one_name_at_one_moment_keep_every_file(folder, monkeypatch):
    files = [model_bytes(seed) for seed in range(6)]
    entries = _at_once(6, lambda i: catalog.import_upload(files[i], "same.safetensors")[0])
    assert len({e.path for e in entries}) == 6
    assert sorted(p.read_bytes() for p in folder.iterdir()) == sorted(files)
    monkeypatch.setattr(catalog.time, "strftime", lambda *a: "20260101-120000")  # all in one second
    paths = _at_once(6, lambda i: catalog.save_trained(files[i], "vae"))
    assert len(set(paths)) == 6 and [p.read_bytes() for p in paths] == files


def test_an_exclusive_write_never_replaces_a_file(tmp_path):
    path = storage.write_atomic(tmp_path / "m.bin", b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        storage.write_atomic(path, b"second", exclusive=True)
    assert path.read_bytes() == b"first" and [p.name for p in tmp_path.iterdir()] == ["m.bin"]


def test_a_bit_flipped_cache_entry_is_recomputed(folder):
    values = np.random.default_rng(0).normal(size=5000).astype(np.float32)
    assert cache.put("errors-x", values=values)
    path = cache.cache_dir() / "errors-x.npz"
    good = path.read_bytes()
    for at in range(len(good) // 4, len(good) // 2, 97):  # bytes inside the compressed array
        flipped = bytearray(good)
        flipped[at] ^= 0x40
        path.write_bytes(bytes(flipped))
        assert cache.get("errors-x", shipped=False) is None
        assert not path.exists()  # the damaged copy is gone: the next put writes a good one
    assert cache.put("errors-x", values=values) and np.array_equal(cache.get("errors-x")[0]["values"], values)
    np.savez(path, values=np.array([{"a": 1}], dtype=object))  # an object array would need a pickle
    assert cache.get("errors-x") is None


def test_messages_never_show_server_folders(folder, tmp_path, monkeypatch):
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(tmp_path / "deep" / "nope.safetensors")
    assert str(e.value) == "no such file: nope.safetensors"
    (folder / "dir.safetensors").mkdir()
    (entry,) = [e for e in catalog.list_models(include_broken=True) if e.source == "yours"]
    assert entry.error == "not a regular file"

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied", str(folder / "x.tmp"))

    monkeypatch.setattr(storage, "write_atomic", denied)
    with pytest.raises(ModelsFolderError) as e:
        catalog.import_upload(GOOD, "m.safetensors")
    assert str(folder) not in one_line(e.value) and "no permission" in str(e.value)
