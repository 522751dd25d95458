"""Checkpoints for the hostile-visitor tests: a good tiny one, and ways to write any metadata into it."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from aecore import build, checkpoint

HISTORY = {"epochs": [{"epoch": 1, "step": 10, "lr": 0.001, "seconds": 1.5, "train": {"loss": 0.2},
                       "val": {"loss": 0.25}}], "steps": [{"step": 5, "loss": 0.3}, {"step": 10, "loss": 0.2}],
           "train_size": 500, "train_source": "bundled sample", "precision": "fp32", "out_of_time": False}


def model_bytes(seed: int = 0, variant: str = "dense", **meta) -> bytes:
    torch.manual_seed(seed)
    meta = {"metrics": {"test_mse": 0.01, "params": 7000, "stopped_early": False}, "dataset": "mnist",
            "train_config": {"epochs": 1, "lr": 0.001, "dataset": "mnist"}, "history": HISTORY, **meta}
    return checkpoint.to_bytes(build(variant, {"latent_dim": 4}), **meta)


GOOD = model_bytes()


def raw_meta(text: str, base: bytes = GOOD) -> bytes:
    """``base``'s weights under the aecore metadata ``text``, verbatim."""
    return st_save(st_load(base), metadata={"aecore": text})


def with_meta(base: bytes = GOOD, **changes) -> bytes:
    meta = json.loads(st_load_meta(base))
    meta.update(changes)
    return raw_meta(json.dumps(meta), base)


def st_load_meta(data: bytes) -> str:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8: 8 + n])["__metadata__"]["aecore"]


def with_number(digits: int, where: str = "metrics") -> bytes:
    """A checkpoint whose metric (or format_version) is an integer ``digits`` long: json.dumps can't write it."""
    meta = json.loads(st_load_meta(GOOD))
    if where == "metrics":
        meta["metrics"]["test_mse"] = "BIG"
    else:
        meta[where] = "BIG"
    return raw_meta(json.dumps(meta).replace('"BIG"', "9" * digits))


def deep_meta(levels: int) -> bytes:
    meta = json.loads(st_load_meta(GOOD))
    meta["train_config"] = "DEEP"
    return raw_meta(json.dumps(meta).replace('"DEEP"', "[" * levels + "]" * levels))


def deep_header(levels: int) -> bytes:
    """A safetensors file whose own header (not the aecore metadata) nests ``levels`` deep."""
    header = b'{"__metadata__": {"aecore": "{}"}, "x": ' + b"[" * levels + b"]" * levels + b"}"
    return len(header).to_bytes(8, "little") + header


def big_header(megabytes: float) -> bytes:
    return with_meta(note="x" * int(megabytes * 1024 * 1024))


def one_line(error) -> str:
    msg = str(error)
    assert msg and "\n" not in msg and "/" not in msg.replace("http://", ""), msg
    assert "](" not in msg and "<img" not in msg, msg  # never repeats the file's markup
    return msg


def empty_models_folder(tmp_path, monkeypatch):
    """An empty models folder and cache for one test, with the default quota (a test module's fixture)."""
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("AECORE_MODELS_DIR", str(models))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("AECORE_MODELS_QUOTA_MB", "AECORE_MODELS_QUOTA_FILES"):
        monkeypatch.delenv(name, raising=False)
    return models


