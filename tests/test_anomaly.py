"""The anomaly lens: scores, OOD sets, AUROC against scikit-learn's, the cache, the CLI and the page."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from app_support import NO_DATA, no_errors, run_page

from aecore import anomaly, build, cache, ood


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {name: build(name, cfg).eval() for name, cfg in (
        ("dense", {"latent_dim": 8}), ("vae", {"latent_dim": 4, "hidden1": 32, "hidden2": 16}),
        ("cvae", {"latent_dim": 4, "hidden1": 32, "hidden2": 16}))}


def test_auroc_and_roc_match_scikit_learn():
    from sklearn.metrics import roc_auc_score, roc_curve

    rng = np.random.default_rng(0)
    normal = rng.normal(0, 1, 500).round(1)  # rounded: many ties, which count half
    odd = rng.normal(0.7, 1, 300).round(1)
    truth = np.r_[np.zeros(500), np.ones(300)]
    assert ood.auroc(normal, odd) == pytest.approx(roc_auc_score(truth, np.r_[normal, odd]), abs=1e-12)
    fpr, tpr = ood.roc_curve(normal, odd)
    sk_fpr, sk_tpr, _ = roc_curve(truth, np.r_[normal, odd], drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    assert ood.auroc(normal, normal + 100) == 1.0 and ood.auroc(normal + 100, normal) == 0.0


def test_fpr95_and_percentile():
    normal, odd = np.arange(100.0), np.arange(50.0, 150.0)
    # The threshold that flags 95 of the 100 odd images is 55: test images 55..99 (45%) are flagged too.
    assert ood.fpr_at_tpr(normal, odd) == pytest.approx(0.45)
    assert ood.percentile(1000.0, normal) == 100.0 and ood.percentile(-1.0, normal) == 0.0
    assert ood.percentile(49.5, normal) == pytest.approx(50.0)


def test_png_bits_grow_with_complexity():
    blank, noise = torch.zeros(1, 1, 28, 28), torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    bits = anomaly.png_bits(torch.cat([blank, noise]))
    assert bits[0] < 1000 < 5000 < bits[1]


def test_scores_per_model_kind(models, tiny_batch):
    x = tiny_batch[0][:20]
    for model in models.values():
        scores = anomaly.compute_scores(model, x, k=4)
        assert list(scores) == [s.key for s in anomaly.scores_for(model)]
        assert all(v.shape == (20,) and np.isfinite(v).all() for v in scores.values())
        assert ("nll" in scores) == model.has_likelihood
    assert "nll" not in anomaly.compute_scores(models["dense"], x, k=4)


def test_corrected_score_is_raw_minus_compressed_length(models, tiny_batch):
    x = tiny_batch[0][:16]
    bits = anomaly.png_bits(x)
    scores = anomaly.compute_scores(models["vae"], x, k=4)
    np.testing.assert_allclose(scores["nll_corrected"], scores["nll"] / math.log(2) - bits, rtol=1e-5)
    np.testing.assert_allclose(scores["bce_corrected"], scores["bce"] / math.log(2) - bits, rtol=1e-5)


def test_importance_sampling_bounds(models, tiny_batch):
    """The k-sample bound on -log p(x) lies below the -ELBO (Jensen), and tightens with more samples."""
    x = tiny_batch[0][:32]
    few = anomaly.compute_scores(models["vae"], x, k=2)
    many = anomaly.compute_scores(models["vae"], x, k=64)
    assert (many["nll"] <= many["neg_elbo"] + 1e-3).all()
    assert many["nll"].mean() <= few["nll"].mean() + 1e-3


def test_ood_sets(offline_env, monkeypatch, tmp_path):
    from aecore import data

    monkeypatch.setattr(data, "DEBIAN_FASHION", tmp_path / "no-debian-package")  # as on a plain install
    noise = ood.ood_set("noise", "mnist", n=50)
    assert noise.images.shape == (50, 1, 28, 28) and 0 <= noise.images.min() and noise.images.max() <= 1
    assert torch.equal(noise.images, ood.ood_set("noise", "mnist", n=50).images)  # repeatable
    fashion = ood.ood_set("fashion_mnist", "mnist", n=100)  # the bundled Fashion-MNIST sample
    assert fashion.dataset == "fashion_mnist" and len(fashion) == 100 and "bundled" in fashion.source
    inverted = ood.ood_set("inverted", "fashion_mnist", n=30)
    own = anomaly.load("fashion_mnist", "test").subset(30)
    assert torch.allclose(inverted.images, 1 - own.images)
    with pytest.raises(ValueError, match="own dataset"):
        ood.ood_set("mnist", "mnist")
    with pytest.raises(ValueError, match="choose from mnist, noise, inverted"):
        ood.parse_sets("noise,cifar", "fashion_mnist")


def test_scores_are_cached_and_a_damaged_entry_is_recomputed(models, tmp_path, monkeypatch, bundled_test):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    data = bundled_test.subset(50)
    first, where = anomaly.cached_scores(models["vae"], "sha-x", data, k=4)
    assert where is None
    again, where = anomaly.cached_scores(models["vae"], "sha-x", data, k=4)
    assert where == "cache" and all(np.array_equal(first[k], again[k]) for k in first)
    entry = cache.cache_dir() / f"{anomaly.scores_name('sha-x', anomaly.image_set_key(data), 4)}.npz"
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    fixed, where = anomaly.cached_scores(models["vae"], "sha-x", data, k=4)
    assert where is None and np.allclose(fixed["nll"], first["nll"])


def test_evaluate_ood_reports_every_set_and_score(models, offline_env, tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "cache"))  # nothing from an earlier run
    result = anomaly.evaluate_ood(models["dense"], "sha-dense-test", "mnist", ["noise"], k=2)
    assert [(r["set"], r["score"]) for r in result["rows"]] == [("noise", "mse"), ("noise", "bce"),
                                                                ("noise", "bce_corrected")]
    assert all(0 <= r["auroc"] <= 1 and 0 <= r["fpr95"] <= 1 for r in result["rows"])
    assert len(result["test"]["mse"]) == 10_000 and result["where"] == "computed"
    assert anomaly.best_score(result["rows"]) in ("mse", "bce", "bce_corrected")


def run_cli(*args, env_dir):
    import os

    env = {**os.environ, "AECORE_DATA_DIR": str(env_dir), "AECORE_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "aecore", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_cli_ood_json_on_a_shipped_model(tmp_path):
    proc = run_cli("ood", "dense", "--against", "fashion_mnist,noise", "--json", env_dir=NO_DATA)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["dataset"] == "mnist" and "bundled" in out["in_distribution"]
    rows = {(r["set"], r["score"]): r for r in out["rows"]}
    assert rows[("fashion_mnist", "mse")]["auroc"] > 0.99 and rows[("noise", "bce")]["auroc"] > 0.99


def test_cli_ood_refuses_bad_input(tmp_path):
    proc = run_cli("ood", "dense", "--against", "cifar", env_dir=NO_DATA)
    assert proc.returncode == 1 and "unknown OOD set cifar" in proc.stderr and "Traceback" not in proc.stderr
    (tmp_path / "x.safetensors").write_bytes(b"not a checkpoint")
    proc = run_cli("ood", str(tmp_path / "x.safetensors"), env_dir=NO_DATA)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1


def test_anomalies_page_renders_and_reacts(app_env):
    at = run_page("pages/6_Anomalies.py", timeout=600)
    no_errors(at)
    assert at.title[0].value == "Anomalies"
    assert any("AUROC" in str(df.value) or len(df.value) for df in at.dataframe)
    assert len(at.get("plotly_chart")) == 2
    # A user model: its scores are computed on the spot and cached.
    at.selectbox(key="anomaly_model").select("vae").run(timeout=600)
    no_errors(at)
    assert "computed now" in " ".join(c.value for c in at.caption) or "cache" in " ".join(c.value for c in at.caption)
    slider = at.slider[0]
    slider.set_value(slider.max).run(timeout=600)
    no_errors(at)
    assert any("Flagged" in m.value and "test split 0.0%" in m.value for m in at.markdown)


# -- the targets, on the shipped files (their scores ship too, so this takes seconds) ----------------------

def shipped_reports():
    from aecore import catalog

    entries = [e for e in catalog.list_models() if e.source == "pretrained"]
    return {e.name: (e, anomaly.evaluate_ood(catalog.load(e)[0], e.sha256, e.dataset, data_dir=NO_DATA))
            for e in entries}


@pytest.fixture(scope="module")
def reports():
    return shipped_reports()


def test_every_mnist_model_tells_fashion_and_noise_apart(reports):
    mnist = {name: r for name, (e, r) in reports.items() if e.dataset == "mnist"}
    assert len(mnist) >= 9
    for name, report in mnist.items():
        for other in ("fashion_mnist", "noise"):
            row = max((r for r in report["rows"] if r["set"] == other), key=lambda r: r["auroc"])
            score, value = row["score"], row["auroc"]
            assert value >= 0.99, f"{name} against {other}: best AUROC {value:.4f} ({score})"
        assert report["where"] == "shipped", f"{name}: its scores should ship with it"


def test_the_known_failure_of_likelihoods_and_its_fix(reports):
    """Trained on Fashion-MNIST, the VAE's raw likelihood ranks MNIST digits as *more* normal than its own
    test images (Nalisnick et al. 2019); corrected for input complexity it separates them."""
    entry, report = next((e, r) for e, r in reports.values() if e.dataset == "fashion_mnist" and e.can("generative"))
    rows = {r["score"]: r["auroc"] for r in report["rows"] if r["set"] == "mnist"}
    assert rows["nll"] < 0.5 and rows["neg_elbo"] < 0.5
    assert rows["nll_corrected"] >= 0.90


def test_fashion_models_ship_within_the_size_limit():
    from aecore import catalog

    fashion = [e for e in catalog.list_models() if e.source == "pretrained" and e.dataset == "fashion_mnist"]
    assert {e.variant for e in fashion} >= {"vae", "dense"}
    assert all(e.size <= 5 * 1024 * 1024 for e in fashion)
