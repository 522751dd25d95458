"""The shipped checkpoints meet the targets the model card states, evaluated from the files themselves.

MSE, ELBO and sample targets use the MNIST test split, which the bundled sample holds whole; the
kNN targets need the full training split as the reference set and run where it is available.
"""

import sys
from pathlib import Path

import pytest

from aecore import VARIANTS, checkpoint
from aecore.classifier import CLASSIFIER_PATH, accuracy, load_classifier
from aecore.data import load
from aecore.metrics import encode_all, knn_accuracy
from aecore.pretrain import MODELS_DIR, pretrain_one
from tests.conftest import full_data_dir

pytestmark = pytest.mark.slow
MAX_BYTES = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def test_split():
    return load("mnist", "test", data_dir=full_data_dir() or "/nonexistent-aecore-root", download=False)


@pytest.fixture(scope="module")
def full_train():
    root = full_data_dir()
    if root is None:
        pytest.skip("kNN targets need the full MNIST training split (set AECORE_DATA_DIR)")
    return load("mnist", "train", data_dir=root, download=False)


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


@pytest.fixture(scope="module")
def shipped():
    models = {}
    for name in VARIANTS:
        path = MODELS_DIR / f"{name}.safetensors"
        assert path.exists(), f"{path} is missing: run `aecore pretrain`"
        assert path.stat().st_size <= MAX_BYTES, f"{path.name} is over 5 MB"
        models[name] = checkpoint.load(path, expect_variant=name)
    return models


@pytest.fixture(scope="module")
def metrics(shipped, test_split, classifier):
    """Evaluate each shipped file now (not the numbers stored in it)."""
    from aecore.metrics import evaluate

    return {name: evaluate(model, test_split, None, classifier) for name, (model, _) in shipped.items()}


def test_model_card_lists_every_model():
    card = (MODELS_DIR / "README.md").read_text()
    for name in VARIANTS:
        assert f"`{name}`" in card


def test_reference_classifier_is_accurate(test_split, classifier):
    assert CLASSIFIER_PATH.stat().st_size <= MAX_BYTES
    assert accuracy(classifier, test_split) >= 0.99


def test_stored_metrics_match_a_fresh_evaluation(shipped, metrics):
    for name, (_, meta) in shipped.items():
        assert meta["metrics"]["test_mse"] == pytest.approx(metrics[name]["test_mse"], rel=1e-3), name


def test_reconstruction_targets(metrics):
    assert metrics["dense"]["latent_dim"] == 64 and metrics["dense"]["test_mse"] <= 0.0038
    for name in ("deep", "conv"):
        assert metrics[name]["latent_dim"] == 32 and metrics[name]["test_mse"] <= 0.0040, name


def test_denoising_beats_dense_on_corrupted_digits(shipped, test_split):
    from aecore.metrics import denoise_mse

    denoiser = shipped["denoising"][0]
    kind, level = denoiser.config.noise, denoiser.config.noise_level
    plain = denoise_mse(shipped["dense"][0], test_split, kind, level)
    assert denoise_mse(denoiser, test_split, kind, level) <= 0.5 * plain


def test_sparse_is_sparse_and_still_reconstructs(metrics):
    sparse, dense = metrics["sparse"], metrics["dense"]
    assert sparse["latent_dim"] == dense["latent_dim"]
    assert sparse["mean_activation"] <= 0.05
    assert sparse["test_mse"] <= 1.5 * dense["test_mse"]


def test_vae_elbo_targets(metrics):
    assert metrics["vae"]["neg_elbo"] <= 100
    assert metrics["conv_vae"]["neg_elbo"] <= 100
    assert metrics["cvae"]["neg_elbo"] < metrics["vae"]["neg_elbo"]


def test_cvae_draws_the_digit_it_is_asked_for(metrics):
    assert metrics["cvae"]["samples_as_requested"] >= 0.95


def test_vq_vae_reconstructs_at_least_as_well_as_conv_and_uses_its_codebook(shipped, metrics):
    vq = metrics["vq_vae"]
    assert vq["test_mse"] <= 0.0035 and vq["test_mse"] <= metrics["conv"]["test_mse"]
    size = shipped["vq_vae"][0].config.codebook_size
    assert 128 <= size <= 512
    assert vq["codebook_perplexity"] >= 0.25 * size


def test_vq_vae_knn_is_reported_beside_pca():
    card = (MODELS_DIR / "README.md").read_text()
    row = next(line for line in card.splitlines() if line.startswith("| `vq_vae` |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[5].endswith("%") and cells[-1].endswith("%")  # its kNN(5), and PCA's at the same size


@pytest.mark.parametrize("name", ["dense", "deep", "conv"])
def test_knn_accuracy_of_codes(name, shipped, test_split, full_train):
    model = shipped[name][0]
    train_codes, test_codes = encode_all(model, full_train), encode_all(model, test_split)
    acc = knn_accuracy(train_codes, full_train.labels, test_codes, test_split.labels)
    assert acc >= 0.976, f"{name}: kNN(5) accuracy {acc:.4f}"


def test_pretrain_one_writes_a_loadable_checkpoint(tmp_path, monkeypatch, bundled_train, bundled_test):
    """The pretrain path itself, on a short recipe (the real one is `aecore pretrain`)."""

    from aecore.metrics import evaluate
    from aecore.pretrain import write_card

    train_data, test = bundled_train.subset(500), bundled_test.subset(200)
    monkeypatch.setattr(VARIANTS["dense"], "recipe", ({"latent_dim": 8}, {"epochs": 1}))
    path, m = pretrain_one("dense", train_data, test, tmp_path, evaluate_fn=lambda model: evaluate(model, test))
    model, meta = checkpoint.load(path)
    assert model.latent_dim == 8 and meta["metrics"]["train_seconds"] > 0
    assert meta["metrics"]["test_mse"] == pytest.approx(evaluate(model, test)["test_mse"])
    card = write_card(tmp_path, "/nonexistent-aecore-root").read_text()
    assert "## MNIST" in card and f"| `dense` | 8 | {m['test_mse']:.5f} |" in card


def test_readme_table_is_the_model_cards():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import update_readme

    assert update_readme.main(["--check"]) == 0, "run python scripts/update_readme.py"


def test_vae_2d_is_a_usable_plane(shipped, metrics):
    """The 2-D VAE: a coarse but real model whose map is its latent plane."""
    model, _ = shipped["vae_2d"]
    assert model.latent_dim == 2 and metrics["vae_2d"]["neg_elbo"] <= 145
