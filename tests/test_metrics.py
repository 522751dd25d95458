"""Metric functions give the known answers on cases whose answer is known."""

import math

import pytest
import torch

from aecore import VARIANTS, build
from aecore.metrics import active_units, evaluate, knn_accuracy, psnr, ssim


def test_psnr_and_ssim_known_values():
    x = torch.rand(4, 1, 28, 28)
    assert torch.allclose(ssim(x, x), torch.ones(4), atol=1e-5)
    assert (psnr(x, x) > 90).all()
    noisy = (x + 0.1).clamp(0, 1)
    assert (ssim(x, noisy) < 1).all()
    y = torch.zeros(1, 1, 28, 28)
    assert math.isclose(float(psnr(y, y + 0.1)), 20.0, rel_tol=1e-4)  # MSE 0.01 -> 20 dB


def test_knn_on_separable_clusters():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat(20)
    codes = labels[:, None].float() * 10 + torch.randn(200, 3, generator=gen)
    assert knn_accuracy(codes, labels, codes + 0.1, labels, k=5) == 1.0
    shuffled = labels[torch.randperm(200, generator=gen)]
    assert knn_accuracy(codes, shuffled, codes, labels, k=5) < 0.5


def test_active_units_counts_dead_dimensions():
    model = build("dense", {"latent_dim": 4})
    codes = torch.rand(100, 4)
    codes[:, 1] = 0  # a dead ReLU
    assert active_units(model, codes) == 0.75


def test_evaluate_reports_the_promised_keys(bundled_train, bundled_test):
    test, train = bundled_test.subset(300), bundled_train.subset(300)
    dense = evaluate(build("dense"), test, train)
    assert {"test_mse", "test_bce", "psnr", "ssim", "params", "encode_latency_ms", "knn5_acc",
            "active_units"} <= set(dense)
    vae = evaluate(build("vae"), test)
    assert {"neg_elbo", "recon_nats", "kl_nats"} <= set(vae)
    assert "mean_activation" in evaluate(build("sparse"), test)
    assert "denoise_mse" in evaluate(build("denoising"), test)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_metric_a_model_reports_is_defined_once(name, bundled_test, bundled_train):
    from aecore.classifier import load_classifier
    from aecore.metric_info import METRICS
    from aecore.metrics import evaluate
    from aecore.models import all_metrics

    defined = {id(m): m for m in METRICS} | {id(m): m for cls in VARIANTS.values() for m in cls.metric_info}
    keys = [m.key for m in defined.values()]  # (subclasses share their base's definitions)
    assert len(keys) == len(set(keys))  # no metric is defined twice
    known = {m.key for m in all_metrics()}
    got = evaluate(build(name, seed=0), bundled_test.subset(200), bundled_train.subset(300), load_classifier())
    assert set(got) <= known, set(got) - known


def test_ssim_by_separable_blur_equals_the_7x7_convolution(bundled_test):
    """SSIM blurs with two matrix products; the textbook 7x7 Gaussian convolution gives the same."""
    import torch.nn.functional as F

    x = bundled_test.images[:50]
    y = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    coords = torch.arange(7.0) - 3
    g = torch.exp(-coords.pow(2) / (2 * 1.5**2))
    g = g / g.sum()
    kernel = (g[:, None] * g[None, :]).expand(1, 1, 7, 7)

    def blur(t):
        return F.conv2d(t, kernel)

    mu_x, mu_y = blur(x), blur(y)
    cov = blur(x * y) - mu_x * mu_y
    var_x, var_y = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2
    c1, c2 = 0.01**2, 0.03**2
    want = (((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)))
    assert torch.allclose(ssim(x, y), want.flatten(1).mean(1), atol=1e-5)


def test_nearest_codes_equal_brute_force_distances():
    from aecore.metrics import nearest_codes

    gen = torch.Generator().manual_seed(0)
    reference, queries = torch.randn(700, 16, generator=gen), torch.randn(130, 16, generator=gen)
    idx, sq_dist = nearest_codes(queries, reference, k=5, chunk=50)  # several chunks, one short
    want_dist, want_idx = torch.cdist(queries.double(), reference.double()).pow(2).topk(5, largest=False)
    assert torch.equal(idx, want_idx)
    assert torch.allclose(sq_dist.double(), want_dist, atol=1e-4)
    own, _ = nearest_codes(reference, reference, k=3, chunk=64, self_first=True)
    assert torch.equal(own[:, 0], torch.arange(700))


def test_evaluate_reconstructs_from_the_codes_it_reports(bundled_train, bundled_test):
    """Encoding the test split once for every metric gives what reconstructing it again gives."""
    from aecore.metrics import per_image_mse, reconstruct_all

    model, test = build("conv_vae", seed=0), bundled_test.subset(300)
    direct = float(per_image_mse(reconstruct_all(model, test.images, test.labels), test.images).mean())
    assert evaluate(model, test)["test_mse"] == pytest.approx(direct, rel=1e-6)


@pytest.mark.parametrize(("n", "m", "k"), [(7, 60_000, 5), (5, 10_017, 15), (3, 300, 5), (4, 50, 3)])
def test_smallest_is_topk(n, m, k):
    """The grouped search returns exactly what topk returns, leftover columns and self-exclusion included."""
    from aecore.metrics import smallest

    score = torch.randn(n, m, generator=torch.Generator().manual_seed(m))
    score[0, 3] = float("-inf")
    want = score.topk(k, dim=1, largest=False)
    got = smallest(score, k)
    assert torch.equal(got[0], want.values) and torch.equal(got[1], want.indices)


def test_ssim_in_chunks_is_ssim_at_once():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(2500, 1, 28, 28, generator=gen), torch.rand(2500, 1, 28, 28, generator=gen)
    assert torch.allclose(ssim(a, b, chunk=1000), ssim(a, b, chunk=5000), atol=1e-6)
