"""Training evolution: aligned frames of a fixed probe set, kept in the checkpoint, replayed on the Train page."""

import json

import numpy as np
import pytest
import torch

from aecore import VARIANTS, build, checkpoint, evolution
from aecore.checkpoint import CheckpointError
from aecore.training import config_for, train


def test_probe_is_fixed_and_class_balanced(bundled_test):
    a, b = evolution.probe(bundled_test), evolution.probe(bundled_test)
    assert len(a.rows) == evolution.PROBE_SIZE == len(set(a.rows.tolist()))
    assert np.array_equal(a.rows, b.rows)
    assert np.bincount(a.labels.numpy(), minlength=10).tolist() == [evolution.PROBE_SIZE // 10] * 10
    assert torch.equal(a.images, bundled_test.images[torch.from_numpy(a.rows)])


@pytest.mark.parametrize("reflect", [False, True])
def test_procrustes_turns_a_rotated_copy_back(reflect):
    xy = np.random.default_rng(0).normal(size=(500, 2)) * [3.0, 1.0]
    t = 2.2
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) @ (np.diag([1, -1]) if reflect else np.eye(2))
    assert np.allclose(evolution.align(xy @ rot, xy), xy)


def test_a_frame_is_unit_rms_pca_of_the_codes(bundled_test):
    model = build("dense", {"latent_dim": 8})
    probe = evolution.probe(bundled_test, 300)
    xy = evolution.frame(model, probe)
    assert xy.shape == (300, 2) and np.isfinite(xy).all()
    assert np.sqrt((xy**2).sum(1).mean()) == pytest.approx(1.0, rel=1e-4)
    assert np.allclose(xy.mean(0), 0, atol=1e-5)
    assert model.training  # the model's mode is given back


@pytest.fixture(scope="module")
def run(bundled_train, bundled_test):
    """Three epochs of a small dense model, recorded, and the same run not recorded."""
    cfg = config_for(VARIANTS["dense"], epochs=3, train_size=1000, device="cpu", seed=0)
    model = build("dense", {"latent_dim": 16}, seed=0)
    rec = evolution.Recorder(model, bundled_test)
    train(model, bundled_train, None, cfg, on_progress=rec)
    plain = build("dense", {"latent_dim": 16}, seed=0)
    train(plain, bundled_train, None, cfg)
    return model, rec, plain


def test_one_frame_per_epoch_and_no_flips_between_them(run):
    _, rec, _ = run
    ev = rec.evolution()
    # epoch 0 is the untrained model
    assert ev.frames.shape == (4, evolution.PROBE_SIZE, 2) and ev.frames.dtype == np.float16
    for before, after in zip(ev.frames[:-1].astype(np.float32), ev.frames[1:].astype(np.float32), strict=True):
        agreement = np.diag(before.T @ after) / len(before)
        assert (agreement > 0).all(), agreement  # no axis flipped sign (nor swapped) from one epoch to the next
    (x0, x1), (y0, y1) = ev.limits()
    assert x0 < ev.frames[..., 0].min() + 0.5 and y1 > ev.frames[..., 1].max() - 0.5


def test_recording_does_not_change_training(run):
    model, _, plain = run
    for a, b in zip(model.state_dict().values(), plain.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_frames_round_trip_in_a_checkpoint_that_still_loads(run, tmp_path, tiny_batch):
    model, rec, _ = run
    path = checkpoint.save(model, tmp_path / "m.safetensors", rec.tensors(), metrics={"test_mse": 0.01})
    plain_size = len(checkpoint.to_bytes(model))
    assert path.stat().st_size - plain_size < 4 * 8200 + 10_000  # 8 kB a frame, the probe's rows and labels
    loaded, meta = checkpoint.load(path)
    assert meta["format_version"] == 2 and meta["metrics"] == {"test_mse": 0.01}
    assert torch.equal(loaded.reconstruct(tiny_batch[0]), model.reconstruct(tiny_batch[0]))
    ev = evolution.from_checkpoint(path.read_bytes())
    assert np.array_equal(ev.frames, rec.evolution().frames)
    assert np.array_equal(ev.rows, rec.probe.rows) and np.array_equal(ev.labels, rec.probe.labels.numpy())


def test_a_checkpoint_without_frames_loads_and_has_none():
    data = checkpoint.to_bytes(build("dense", {"latent_dim": 4}))
    assert checkpoint.read_metadata(data)["format_version"] == 1  # readable by aecore before evolution
    checkpoint.from_bytes(data)
    assert evolution.from_checkpoint(data) is None and checkpoint.read_extras(data) == {}


def test_malformed_frames_are_one_line(run):
    model = build("dense", {"latent_dim": 4})
    bad = {"evolution.frames": torch.zeros(2, 10, 3), "evolution.rows": torch.zeros(10, dtype=torch.int32),
           "evolution.labels": torch.zeros(10, dtype=torch.uint8)}
    with pytest.raises(CheckpointError) as e:
        evolution.from_checkpoint(checkpoint.to_bytes(model, bad))
    assert "malformed evolution" in str(e.value) and "\n" not in str(e.value)


def test_cli_keeps_frames_with_evolution(offline_env, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "d.safetensors"
    proc = subprocess.run([sys.executable, "-m", "aecore", "train", "dense", "--epochs", "2", "--train-size", "500",
                           "--latent-dim", "8", "--fast-eval", "--quiet", "--json", "--evolution", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["epochs"] == 2
    assert evolution.from_checkpoint(out.read_bytes()).frames.shape == (3, evolution.PROBE_SIZE, 2)


# -- the Train page ----------------------------------------------------------------------------------

def _titles(at) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def test_train_page_shows_the_map_and_replays_it(app_env):
    from app_support import no_errors, run_page

    from aecore import catalog, jobs

    settings = {"train.dense.default.epochs": 2, "train.dense.default.train_size": 1000}  # the page's widget keys
    at = run_page("pages/1_Train.py", **settings)
    at.button(key="start").click().run()
    job = jobs.BOARD.get(at.session_state["job_id"])
    assert job.join(120) and job.status == jobs.DONE, job.snapshot()["message"]
    assert job.snapshot()["evolution"].frames.shape == (3, evolution.PROBE_SIZE, 2)
    at.run()
    no_errors(at)
    assert any(t.startswith(f"After epoch 2: {evolution.PROBE_SIZE:,} test digits") for t in _titles(at))
    at.slider(key=f"evolution.{job.id}").set_value(0).run()
    no_errors(at)
    assert any(t.startswith("Before training") for t in _titles(at))
    # The saved model keeps its frames: the Download section replays them.
    saved = next(e for e in catalog.list_models() if str(e.path) == job.snapshot()["path"])
    at = run_page("pages/1_Train.py", download_model=saved.name)
    no_errors(at)
    assert at.slider(key=f"evolution.{saved.sha256[:12]}").value == 2
