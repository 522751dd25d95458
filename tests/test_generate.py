import pytest
import torch

from aecore import build, generate
from aecore.data import load


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return build("vae", {"latent_dim": 6, "hidden1": 64, "hidden2": 32}).eval()


@pytest.fixture(scope="module")
def cvae():
    torch.manual_seed(0)
    return build("cvae", {"latent_dim": 4, "hidden1": 64, "hidden2": 32}).eval()


@pytest.fixture(scope="module")
def test_data():
    return load("mnist", "test", data_dir="/nonexistent-aecore-root", download=False).subset(200)


def test_prior_samples_shape_and_seed(vae, cvae):
    a = generate.prior_samples(vae, 5, temperature=0.7, seed=3)
    assert a.shape == (5, 1, 28, 28) and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, generate.prior_samples(vae, 5, temperature=0.7, seed=3))
    assert not torch.equal(a, generate.prior_samples(vae, 5, temperature=0.7, seed=4))
    assert generate.prior_samples(cvae, 3, label=7).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError):
        generate.prior_samples(cvae, 3)


@pytest.mark.parametrize("mode", ["linear", "slerp"])
def test_interpolation_endpoints(mode):
    z0, z1 = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 3.0, -1.0])
    path = generate.interpolate(z0, z1, 7, mode)
    assert path.shape == (7, 3)
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)


def test_slerp_keeps_norm_between_equal_norm_codes():
    z0, z1 = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0])
    path = generate.interpolate(z0, z1, 9, "slerp")
    torch.testing.assert_close(path.norm(dim=1), torch.full((9,), 2.0))
    assert (generate.interpolate(z0, z1, 9, "linear").norm(dim=1)[4] < 1.5)
    same = generate.interpolate(z0, z0, 4, "slerp")  # parallel codes fall back to linear
    assert torch.isfinite(same).all()
    with pytest.raises(ValueError):
        generate.interpolate(z0, z1, 4, "cubic")


def test_interpolate_images(vae, cvae, test_data):
    x0, x1 = test_data.images[0], test_data.images[1]
    assert generate.interpolate_images(vae, x0, x1, 6, "slerp").shape == (6, 1, 28, 28)
    assert generate.interpolate_images(cvae, x0, x1, 5, "linear", 3, 8).shape == (5, 1, 28, 28)


def test_traversal_ranked_by_kl(vae, test_data):
    kl = generate.kl_per_dim(vae, test_data)
    assert kl.shape == (6,) and (kl >= 0).all()
    images, dims = generate.traversal(vae, kl, n_dims=3, steps=5)
    assert images.shape == (15, 1, 28, 28)
    assert dims == kl.argsort(descending=True)[:3].tolist()


def test_manifold_grid(vae, cvae):
    assert generate.manifold_grid(vae, 0, 1, n=4).shape == (16, 1, 28, 28)
    assert generate.manifold_grid(cvae, 2, 3, n=3, label=5).shape == (9, 1, 28, 28)
    with pytest.raises(ValueError):
        generate.manifold_grid(vae, 1, 1)
    g = generate.gaussian_grid(5)
    assert g[2].abs() < 1e-6 and torch.allclose(g, -g.flip(0), atol=1e-5)


def test_cvae_styles_and_restyle(cvae, vae, test_data):
    styles = generate.digit_styles(cvae, n_styles=3, seed=1)
    assert styles.shape == (30, 1, 28, 28)
    assert generate.restyle(cvae, test_data.images[0], int(test_data.labels[0])).shape == (10, 1, 28, 28)
    with pytest.raises(ValueError):
        generate.digit_styles(vae)


def test_decode_mean(vae, cvae):
    codes = torch.randn(5, 6)
    assert generate.decode_mean(vae, codes).shape == (1, 1, 28, 28)
    assert generate.decode_mean(cvae, torch.randn(3, 4), torch.tensor([2, 2, 5])).shape == (1, 1, 28, 28)
