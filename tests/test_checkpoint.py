"""Checkpoints round-trip exactly, are written atomically, and anything else is refused in one line."""

import json
import os

import pytest
import torch
from safetensors.torch import save as st_save

from aecore import VARIANTS, build, checkpoint
from aecore.checkpoint import CheckpointError
from aecore.config import field_specs


def small(name: str) -> dict:
    """A small code for variants whose size is one setting (others keep their defaults)."""
    return {"latent_dim": 5} if "latent_dim" in {s["name"] for s in field_specs(VARIANTS[name].config_class)} else {}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_round_trip_restores_the_same_model(name, tmp_path, tiny_batch):
    torch.manual_seed(0)
    model = build(name, small(name)).eval()
    path = checkpoint.save(model, tmp_path / f"{name}.safetensors", metrics={"test_mse": 0.01}, dataset="mnist")
    loaded, meta = checkpoint.load(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert meta["variant"] == name and meta["metrics"] == {"test_mse": 0.01}
    assert {"aecore_version", "created", "config"} <= set(meta)
    x, y = tiny_batch
    lab = y
    assert torch.equal(loaded.reconstruct(x, lab), model.reconstruct(x, lab))


def test_write_is_atomic(tmp_path, monkeypatch):
    model = build("dense")
    path = tmp_path / "m.safetensors"
    checkpoint.save(model, path)
    before = path.read_bytes()

    def crash(*a):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        checkpoint.save(build("dense", {"latent_dim": 3}), path)
    assert path.read_bytes() == before  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # no temp file left


def _refusal(data: bytes, **kw) -> str:
    with pytest.raises(CheckpointError) as e:
        checkpoint.from_bytes(data, **kw)
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


@pytest.fixture
def good_bytes():
    return checkpoint.to_bytes(build("dense", {"latent_dim": 4}))


def test_refuses_a_pickle(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(build("dense").state_dict(), path)
    assert "pickle" in _refusal(path.read_bytes())


def test_refuses_truncated_files(good_bytes):
    assert "truncated" in _refusal(good_bytes[: len(good_bytes) // 2])
    assert "truncated" in _refusal(good_bytes[:5])


@pytest.mark.parametrize(("data", "kind"), [
    (b"", "empty"),
    (b"hello world, this is not a model at all", "a text file"),
    (b'{"weights": [1, 2, 3], "note": "a JSON file, not a model"}', "a JSON file"),
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "a PNG image"),
    (b"\xff\xd8\xff\xe0" + bytes(64), "a JPEG image"),
    (bytes(range(256)) * 4, "unrecognised binary data"),
])
def test_says_what_a_file_is_when_it_is_not_a_checkpoint(data, kind):
    msg = _refusal(data)
    assert msg.startswith("not an aecore checkpoint: ") and kind in msg


@pytest.mark.parametrize(("raw", "reason"), [
    ("[1, 2]", "not a JSON object"), ("null", "not a JSON object"), ("{not json", "not valid JSON"),
])
def test_refuses_malformed_metadata_in_one_line(raw, reason):
    data = st_save({"w": torch.zeros(3)}, metadata={"aecore": raw})
    assert reason in _refusal(data)


def test_refuses_metadata_with_bad_fields(good_bytes):
    assert "format_version" in _refusal(_with_meta(good_bytes, format_version="1"))
    assert "unknown dataset" in _refusal(_with_meta(good_bytes, dataset="../../etc/passwd"))
    assert "'metrics'" in _refusal(_with_meta(good_bytes, metrics=[1, 2]))


def test_files_get_the_users_usual_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        path = checkpoint.save(build("dense", {"latent_dim": 4}), tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


def test_refuses_garbage_and_foreign_safetensors():
    foreign = st_save({"w": torch.zeros(3)}, metadata={"framework": "other"})
    assert "not an aecore checkpoint" in _refusal(foreign)


def test_refuses_the_wrong_variant(good_bytes):
    assert "expected 'vae'" in _refusal(good_bytes, expect_variant="vae")


def _with_meta(data: bytes, **changes) -> bytes:
    tensors = __import__("safetensors.torch").torch.load(data)
    meta = checkpoint.read_metadata(data)
    meta.update(changes)
    return st_save(tensors, metadata={"aecore": json.dumps(meta)})


def test_refuses_weights_that_do_not_fit_the_config(good_bytes):
    msg = _refusal(_with_meta(good_bytes, config={"latent_dim": 9, "recon_loss": "bce"}))
    assert "don't fit" in msg and "wrong shape" in msg


def test_refuses_unknown_variant_and_bad_settings(good_bytes):
    assert "unknown variant" in _refusal(_with_meta(good_bytes, variant="transformer"))
    assert "latent_dim" in _refusal(_with_meta(good_bytes, config={"latent_dim": -3}))


def test_refuses_non_finite_weights():
    model = build("dense", {"latent_dim": 4})
    with torch.no_grad():
        model.encoder[1].weight[0, 0] = float("nan")
    assert "NaN" in _refusal(checkpoint.to_bytes(model))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        checkpoint.load(tmp_path / "nope.safetensors")


def test_settings_an_older_checkpoint_has_and_this_version_retired_still_load():
    model = build("vae", {"latent_dim": 4})
    data = _with_meta(checkpoint.to_bytes(model), config={"latent_dim": 4, "recon_loss": "bce"})
    loaded, meta = checkpoint.from_bytes(data)
    assert loaded.latent_dim == 4 and meta["config"]["recon_loss"] == "bce"
