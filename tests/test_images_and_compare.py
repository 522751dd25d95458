import io

import numpy as np
import pytest
import torch

from aecore import build, compare, images


def test_tile_png_is_one_upscaled_image():
    from PIL import Image

    batch = torch.rand(7, 1, 28, 28)
    grid = images.tile_array(batch, cols=4, scale=2, pad=1)
    assert grid.shape == ((2 * 29 + 1) * 2, (4 * 29 + 1) * 2) and grid.dtype == np.uint8
    # nearest-neighbour: every source pixel becomes a 2x2 block
    assert np.array_equal(grid[2:4, 2:4], np.full((2, 2), grid[2, 2]))
    im = Image.open(io.BytesIO(images.tile_png(batch, cols=4, scale=2)))
    assert im.size == (grid.shape[1], grid.shape[0]) and im.mode == "L"
    assert images.tile_array(np.zeros((28, 28))).shape == (30 * 3, 30 * 3)  # a single digit


def test_a_map_picture_numbers_its_groups_and_has_no_background():
    """Colour is not the only cue (each group carries its number, in white on a dark outline), and nothing
    but the points and numbers is painted, so the map sits on a light or a dark page alike."""
    from PIL import Image

    from aecore.showcase import map_png

    labels = np.repeat(np.arange(3), 200)
    centres = np.array([[0, 0], [10, 0], [5, 8]], np.float64)
    coords = centres[labels] + np.random.default_rng(0).normal(scale=0.8, size=(600, 2))
    plain = np.asarray(Image.open(io.BytesIO(images.scatter_png(coords, images.label_rgb(labels))[0])))
    numbered = np.asarray(Image.open(io.BytesIO(images.scatter_png(coords, images.label_rgb(labels),
                                                                   labels=labels)[0])))
    white = (numbered[..., :3] == 255).all(-1) & (numbered[..., 3] == 255)
    assert not (plain[..., :3] == 255).all(-1).any() and white.sum() > 3 * 20  # three numbers, in white
    home = np.asarray(Image.open(io.BytesIO(map_png(coords, labels))))
    assert home.shape[-1] == 4 and home[0, 0, 3] == 0 and home[-1, -1, 3] == 0  # transparent corners


def test_metrics_rows_and_sample_indices(app_env):
    from aecore import catalog

    rows = compare.metrics_rows(catalog.list_models(), extra={"dense": {"psnr": 42.0}})
    by_name = {r["model"]: r for r in rows}
    assert by_name["dense"]["PSNR dB"] == 42.0 and by_name["vae"]["-ELBO nats"] > 0
    idx = compare.sample_indices(5, 100, seed=1)
    assert len(idx) == 5 and torch.equal(idx, compare.sample_indices(5, 100, seed=1))
    assert len(compare.sample_indices(50, 10)) == 10


@pytest.mark.parametrize("kind", ["gaussian", "salt_pepper", "masking"])
def test_denoise_demo_uses_the_same_noise_for_every_model(kind):
    torch.manual_seed(0)
    models = {"a": build("dense", {"latent_dim": 4}).eval(), "b": build("dense", {"latent_dim": 4}).eval()}
    x = torch.rand(6, 1, 28, 28)
    res = compare.denoise_demo(models, x, torch.zeros(6).long(), kind, 0.3, seed=2)
    again = compare.denoise_demo(models, x, torch.zeros(6).long(), kind, 0.3, seed=2)
    assert torch.equal(res["noisy"], again["noisy"]) and res["noisy"].shape == x.shape
    assert set(res["models"]) == {"a", "b"} and all(np.isfinite(r["psnr"]) for r in res["models"].values())
    out = compare.reconstructions(models, x, torch.zeros(6).long())
    assert out["a"]["images"].shape == x.shape and out["a"]["mse"].shape == (6,)


def test_quality_warning_names_the_settings_that_differ_from_the_recipe():
    ref = {"metrics": {"test_mse": 0.0037},
           "train_config": {"lr": 0.005, "epochs": 25, "train_size": 0, "batch_size": 64}}
    mine = {"lr": 1.0, "epochs": 25, "train_size": 1000, "batch_size": 64}
    text = compare.quality_warning("dense", {"test_mse": 0.05}, mine, ref)
    assert "13.5× that of the pretrained dense" in text
    assert "lr 1 (pretrained: 0.005)" in text and "train size 1,000 (pretrained: all)" in text
    assert "epochs" not in text and "batch size" not in text  # only what differs
    assert compare.quality_warning("dense", {"test_mse": 0.006}, mine, ref) is None  # within 2×
    assert compare.quality_warning("dense", {"test_mse": 0.05}, mine, None) is None  # nothing to compare with
