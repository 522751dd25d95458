"""A visitor uploads checkpoints into the folder every page lists: each hostile file the review found ends in a
one-line CheckpointError, is listed as unusable without breaking the list, and costs nothing already there."""

from __future__ import annotations

import pytest
import torch
from hostile_checkpoints_support import (
    GOOD,
    HISTORY,
    big_header,
    deep_header,
    deep_meta,
    empty_models_folder,
    model_bytes,
    one_line,
    raw_meta,
    st_load_meta,
    with_meta,
    with_number,
)

from aecore import build, catalog, checkpoint
from aecore.checkpoint import CheckpointError
from aecore.compare import metrics_rows

MARKDOWN = "[Log in again](http://evil.example/login)"

# name -> (file, words its one-line refusal holds)
HOSTILE = {
    "dataset-link": (with_meta(dataset=MARKDOWN), "unknown dataset"),
    "train-dataset-link": (with_meta(train_config={"dataset": MARKDOWN}), "train_config"),
    "train-dataset-dict": (with_meta(train_config={"dataset": {"a": 1}}), "train_config"),
    "dataset-dict": (with_meta(dataset={"name": "mnist"}), "unknown dataset"),
    "variant-dict": (with_meta(variant={"a": 1}), "variant"),
    "variant-unknown": (with_meta(variant="transformer"), "unknown variant"),
    "config-dict": (with_meta(config={"latent_dim": {"a": 4}}), "config"),
    "config-link": (with_meta(config={"latent_dim": 4, "recon_loss": MARKDOWN}), "config"),
    "metric-400-digits": (with_number(400), "digits"),
    "metric-5000-digits": (with_number(5000), "digits"),
    "version-5000-digits": (with_number(5000, "format_version"), "digits"),
    "metric-overflow": (raw_meta(st_load_meta(GOOD).replace('"test_mse": 0.01', '"test_mse": 1e400')), "out of range"),
    "metric-nested": (with_meta(metrics={"test_mse": {"x": 1}}), "metrics"),
    "metric-text": (with_meta(metrics={"test_mse": "0.01"}), "metrics"),
    "metric-name-link": (with_meta(metrics={MARKDOWN: 1.0}), "metrics"),
    "too-many-metrics": (with_meta(metrics={f"m{i}": 1.0 for i in range(500)}), "metrics"),
    "history-bad-epoch": (with_meta(history={"epochs": [{"epoch": "one"}]}), "history"),
    "history-steps-dict": (with_meta(history={"steps": {"a": 1}}), "history"),
    "source-control": (with_meta(data_source="data\x1b[31m root"), "control characters"),
    "source-long": (with_meta(data_source="x" * 5000), "longer than"),
    "created-markup": (with_meta(created="<img src=x onerror=alert(1)>"), "created"),
    "deep-meta": (deep_meta(50_000), "nests deeper"),
    "deep-header": (deep_header(50_000), "nests deeper"),
    "header-2mb": (big_header(2), "MB"),
    "not-utf8": (raw_meta('{"format": "aecore-checkpoint"}').replace(b"aecore-checkpoint", b"aecore-\xff\xfeeckpoint"),
                 "JSON"),
}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    return empty_models_folder(tmp_path, monkeypatch)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_each_hostile_file_is_refused_in_one_line(name):
    data, words = HOSTILE[name]
    with pytest.raises(CheckpointError) as e:
        checkpoint.from_bytes(data)
    assert words in one_line(e.value)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_the_upload_refuses_what_the_list_would_call_unusable(folder, name):
    """Same rules in one place: refused on upload with the reason the list would give, and nothing is written."""
    data, _ = HOSTILE[name]
    with pytest.raises(CheckpointError) as e:
        catalog.import_upload(data, f"{name}.safetensors")
    assert not list(folder.iterdir())
    (folder / f"{name}.safetensors").write_bytes(data)  # copied in by hand, past the upload
    (entry,) = [e for e in catalog.list_models(include_broken=True) if e.source == "yours"]
    assert entry.error == str(e.value)


def test_the_list_and_the_metrics_table_survive_every_hostile_file(folder):
    good = folder / "good.safetensors"
    good.write_bytes(GOOD)
    for name, (data, _) in HOSTILE.items():
        (folder / f"{name}.safetensors").write_bytes(data)
    (folder / "a-folder.safetensors").mkdir()
    entries = catalog.list_models(include_broken=True)
    mine = {e.name: e for e in entries if e.source == "yours"}
    assert set(HOSTILE) | {"good", "a-folder"} == set(mine)
    assert mine["good"].error is None and all(one_line(mine[n].error) for n in HOSTILE)
    usable = catalog.list_models()
    assert [e.name for e in usable if e.source == "yours"] == ["good"]
    rows = metrics_rows(usable)  # Home's and Compare's table: every value a float or None
    assert all(isinstance(v, (float, type(None))) for row in rows for k, v in row.items()
               if k not in ("model", "variant", "source", "dataset", "latent", "pixels"))
    assert good.read_bytes() == GOOD  # nothing already there is lost


def test_the_entry_exposes_only_checked_typed_metadata(folder):
    data = with_meta(note="[click](http://x)", metrics={"test_mse": 0.01, "psnr": None, "params": 7000},
                     train_config={"epochs": 3.0, "lr": 0.001, "dataset": "mnist", "future_setting": "x"})
    entry, added = catalog.import_upload(data, "m.safetensors")
    assert added and entry.error is None
    assert set(entry.meta) <= {"format", "format_version", "variant", "config", "aecore_version", "created",
                               "dataset", "data_source", "metrics", "train_config"}
    assert "note" not in entry.meta and "future_setting" not in entry.meta["train_config"]  # unknown: dropped
    assert entry.meta["train_config"]["epochs"] == 3 and isinstance(entry.meta["train_config"]["epochs"], int)
    assert entry.metrics == {"test_mse": 0.01, "params": 7000}  # a NaN (written as null) is not a measurement
    assert entry.latent_dim == 4 and entry.dataset == "mnist"


def test_a_nan_metric_reads_as_missing_and_history_round_trips():
    data = model_bytes(metrics={"test_mse": float("nan"), "psnr": 20.0})
    meta = checkpoint.read_metadata(data)
    assert meta["metrics"] == {"psnr": 20.0} and meta["history"] == HISTORY


def test_a_long_history_is_thinned_to_fit_the_header_cap():
    steps = [{"step": i, "loss": 1.0 / i, "recon": 0.5 / i} for i in range(1, 40_001)]
    data = model_bytes(history={**HISTORY, "steps": steps})
    meta = checkpoint.read_metadata(data)
    kept = meta["history"]["steps"]
    assert 100 < len(kept) < len(steps) and kept[-1]["step"] == 40_000
    assert int.from_bytes(data[:8], "little") <= checkpoint.MAX_HEADER


def test_extra_tensors_are_bounded():
    model = build("dense", {"latent_dim": 4})
    ok = checkpoint.to_bytes(model, {"evolution.frames": torch.zeros(501, 1000, 2, dtype=torch.float16)})
    assert checkpoint.read_extras(ok)["evolution.frames"].shape == (501, 1000, 2)  # 500 epochs: allowed
    for extras, words in (({"big": torch.zeros(5_000_000)}, "MB"),
                          ({f"e{i}": torch.zeros(1) for i in range(20)}, "extra tensors"),
                          ({"deep": torch.zeros([1] * 6)}, "described wrongly")):
        with pytest.raises(CheckpointError, match=words) as e:
            checkpoint.from_bytes(checkpoint.to_bytes(model, extras))
        one_line(e.value)


