"""Test-split metrics for any autoencoder: reconstruction quality, codes, speed, samples."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from aecore.data import ImageData
from aecore.models import Autoencoder, VAEBase
from aecore.models.base import bce
from aecore.noise import corrupt
from aecore.seeding import generator

CONFIDENT = 0.9  # softmax probability above which the reference classifier "recognises" a digit


def _on(model: Autoencoder, t: torch.Tensor | None) -> torch.Tensor | None:
    """A batch on the model's device (a no-op when they already agree, as on the CPU)."""
    return None if t is None else t.to(next(model.parameters()).device, non_blocking=True)


@torch.no_grad()
def encode_all(model: Autoencoder, data: ImageData, batch_size: int = 1000) -> torch.Tensor:
    """Codes of every image, computed on the model's device, returned on the data's."""
    model.eval()
    cond = model.conditional
    return torch.cat([model.encode(_on(model, data.images[i: i + batch_size]),
                                   _on(model, data.labels[i: i + batch_size]) if cond else None)
                      for i in range(0, len(data), batch_size)]).to(data.images.device)


@torch.no_grad()
def reconstruct_all(model: Autoencoder, images: torch.Tensor, labels: torch.Tensor | None = None,
                    batch_size: int = 1000) -> torch.Tensor:
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        out.append(model.reconstruct(_on(model, images[i: i + batch_size]),
                                     None if labels is None else _on(model, labels[i: i + batch_size])))
    return torch.cat(out).to(images.device)


@torch.no_grad()
def decode_all(model: Autoencoder, codes: torch.Tensor, labels: torch.Tensor | None = None,
               batch_size: int = 1000) -> torch.Tensor:
    model.eval()
    cond = model.conditional
    return torch.cat([model.decode(_on(model, codes[i: i + batch_size]),
                                   _on(model, labels[i: i + batch_size]) if cond else None)
                      for i in range(0, len(codes), batch_size)]).to(codes.device)


def per_image_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).pow(2).flatten(1).mean(1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for images in [0, 1]."""
    return 10 * torch.log10(1.0 / per_image_mse(a, b).clamp_min(1e-10))


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 7, sigma: float = 1.5, chunk: int = 1000) -> torch.Tensor:
    """Per-image structural similarity (Gaussian window, data range 1), ``chunk`` images at a time: the
    temporaries of 1,000 digits are reused by the allocator, those of 10,000 are fresh pages (twice the time)."""
    a, b = a.flatten(0, -3), b.flatten(0, -3)
    if len(a) > chunk:
        parts = [ssim(a[i: i + chunk], b[i: i + chunk], window, sigma, chunk) for i in range(0, len(a), chunk)]
        return torch.cat(parts)
    coords = torch.arange(window, dtype=a.dtype) - (window - 1) / 2
    g = torch.exp(-coords.pow(2) / (2 * sigma**2))
    g = (g / g.sum()).to(a.device)
    # The Gaussian window is separable: a "valid" 1-D blur is a band matrix (out x in), so blurring a
    # stack of images is two batched matrix products, several times faster than a 7x7 convolution
    # over a single channel.
    size, out = a.shape[-1], a.shape[-1] - window + 1
    band = torch.zeros(out, size, dtype=a.dtype, device=a.device)
    for i in range(out):
        band[i, i: i + window] = g
    # The five maps SSIM blurs, blurred in one go.
    mu_a, mu_b, aa, bb, ab = (band @ torch.stack([a, b, a * a, b * b, a * b]) @ band.T).unbind(0)

    c1, c2 = 0.01**2, 0.03**2
    var_a = aa - mu_a**2
    var_b = bb - mu_b**2
    cov = ab - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


def smallest(score: torch.Tensor, k: int, group: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` smallest entries of each row, ascending, with their columns: ``topk(k, largest=False)``, but
    several times faster on long rows. The row is cut into groups of ``group`` columns; the k smallest entries
    all lie in the k groups with the smallest minima (an entry of any other group has those k minima below it),
    so only those groups, and the columns left over at the end, are ranked."""
    n, m = score.shape
    groups = m // group
    if groups <= 2 * k:
        return score.topk(k, dim=1, largest=False)
    mins = score[:, : groups * group].view(n, groups, group).amin(2)
    best = mins.topk(k, dim=1, largest=False).indices
    cols = (best[:, :, None] * group + torch.arange(group, device=score.device)).flatten(1)
    cols = torch.cat([cols, torch.arange(groups * group, m, device=score.device).expand(n, -1)], 1)
    s, j = score.gather(1, cols).topk(k, dim=1, largest=False)
    return s, cols.gather(1, j)


@torch.no_grad()
def nearest_codes(queries: torch.Tensor, reference: torch.Tensor, k: int, chunk: int = 1000,
                  self_first: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (N, k) of each query's k nearest reference codes (Euclidean) and their squared distances.

    Works in chunks of queries, so memory stays at ``chunk`` x len(reference). With ``self_first``
    the queries are the reference set and each row lists itself first, even among duplicates.
    """
    ref_sq = reference.pow(2).sum(1)
    idx, sq_dist = [], []
    # One buffer for every chunk's scores: a fresh 100 MB tensor per chunk costs as much in page faults as
    # the product itself.
    buffer = reference.new_empty(min(chunk, len(queries)), len(reference))
    for i in range(0, len(queries), chunk):
        q = queries[i: i + chunk]
        # |r|^2 - 2 q.r in one fused product (|q|^2 is constant per row: added after ranking).
        score = torch.addmm(ref_sq, q, reference.T, alpha=-2, out=buffer[: len(q)])
        if self_first:
            rows = torch.arange(len(q))
            score[rows, rows + i] = float("-inf")
        s, j = smallest(score, k)
        idx.append(j)
        sq_dist.append((s + q.pow(2).sum(1, keepdim=True)).clamp_min(0))
    return torch.cat(idx), torch.cat(sq_dist)


def knn_accuracy(train_codes, train_labels, test_codes, test_labels, k: int = 5, chunk: int = 500) -> float:
    """Share of test codes whose k nearest training codes (Euclidean) vote for the right label."""
    nearest, _ = nearest_codes(test_codes, train_codes, k, chunk)
    votes = F.one_hot(train_labels[nearest], 10).sum(1).float()
    votes += 1e-3 * F.one_hot(train_labels[nearest[:, 0]], 10)  # ties go to the nearest neighbour
    return int((votes.argmax(1) == test_labels).sum()) / len(test_codes)


def active_units(model: Autoencoder, codes: torch.Tensor) -> float:
    """Share of latent dimensions in use.

    VAEs: Cov_x(E[z|x]) > 0.01 (Burda et al.). Others: the unit varies across digits and is
    non-zero on at least 1% of them (a dead ReLU or a constant unit is not in use).
    """
    var = codes.var(0)
    if isinstance(model, VAEBase):
        return float((var > 0.01).float().mean())
    firing = (codes.abs() > 1e-3).float().mean(0)
    return float(((var > 1e-6) & (firing >= 0.01)).float().mean())


@torch.no_grad()
def negative_elbo(model: VAEBase, data: ImageData, seed: int = 0, batch_size: int = 1000) -> dict:
    """-ELBO in nats per image: BCE on grey pixels (summed) plus KL, one posterior sample, seeded."""
    gen = generator(seed)
    rec = kl = 0.0
    for i in range(0, len(data), batch_size):
        x = data.images[i: i + batch_size]
        _, rec_nats, kl_nats, _ = model.elbo_terms(x, data.labels[i: i + batch_size], generator=gen)
        rec += float(rec_nats.sum())
        kl += float(kl_nats.sum())
    n = len(data)
    return {"neg_elbo": (rec + kl) / n, "recon_nats": rec / n, "kl_nats": kl / n}


@torch.no_grad()
def denoise_mse(model: Autoencoder, data: ImageData, kind: str, level: float, seed: int = 0) -> float:
    """MSE to the clean digits when the model is fed corrupted ones (same noise for every model)."""
    noisy = corrupt(data.images, kind, level, generator(seed))
    return float(per_image_mse(reconstruct_all(model, noisy, data.labels), data.images).mean())


@torch.no_grad()
def sample_quality(model: VAEBase, classifier, n_per_digit: int = 100, seed: int = 0) -> dict:
    """How many prior samples the reference classifier recognises (and, for cvae, as the asked digit)."""
    gen = generator(seed)
    if model.conditional:
        asked = torch.arange(10).repeat_interleave(n_per_digit)
        samples = model.sample(len(asked), label=asked, generator=gen)
    else:
        asked = None
        samples = model.sample(10 * n_per_digit, generator=gen)
    probs = classifier.probabilities(samples.cpu())  # the reference classifier lives on the CPU
    conf, guess = probs.max(1)
    out = {"samples_recognised": float((conf > CONFIDENT).float().mean())}
    if asked is not None:
        out["samples_as_requested"] = float(((guess == asked) & (conf > CONFIDENT)).float().mean())
    return out


def encode_latency_ms(model: Autoencoder, data: ImageData, repeats: int = 30) -> float:
    """Median wall time to encode one image, in milliseconds."""
    x = data.images[:1]
    y = data.labels[:1]
    times = []
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)  # a GPU returns before it is done
    with torch.no_grad():
        for _ in range(repeats + 3):
            t = time.perf_counter()
            model.encode(x, y)
            sync()
            times.append(time.perf_counter() - t)
    return sorted(times[3:])[len(times[3:]) // 2] * 1000


@torch.no_grad()
def own_metrics(model: Autoencoder, test: ImageData, codes: torch.Tensor, classifier=None) -> dict:
    """The metrics of what a model can do beyond reconstructing: its likelihood (-ELBO in nats) and how many
    of its samples the reference classifier recognises, how well it denoises, and its variant's own
    (``extra_metrics``: sparsity, codebook use)."""
    m = {}
    if model.has_likelihood:
        m.update(negative_elbo(model, test))
        if classifier is not None and model.generative:
            m.update(sample_quality(model, classifier))
    if model.denoises:
        m["denoise_mse"] = denoise_mse(model, test, model.config.noise, model.config.noise_level)
    m.update(model.extra_metrics(test, codes, classifier))
    return m


def evaluate(model: Autoencoder, test: ImageData, train: ImageData | None = None, classifier=None,
             knn_k: int = 5, on_stage=None) -> dict:
    """Every metric the model card reports, on the test split (kNN uses ``train`` codes as reference).

    ``on_stage(name)`` is called as each stage starts, for progress bars.
    """
    from aecore.device import compute_copy

    stage = on_stage or (lambda name: None)
    model = compute_copy(model).eval()  # on a GPU, a copy there, and the data moved there once
    device = next(model.parameters()).device
    test, train = test.to(device), (train.to(device) if train is not None else None)
    stage("reconstruction")
    codes = encode_all(model, test)  # once: the reconstructions, active units and kNN all start from them
    recon = decode_all(model, codes, test.labels)
    x = test.images
    m = {
        "test_mse": float(per_image_mse(recon, x).mean()),
        "test_bce": float(bce(recon, x, eps=1e-7).mean()),
        "psnr": float(psnr(recon, x).mean()),
        "ssim": float(ssim(recon, x).mean()),
        "params": sum(p.numel() for p in model.parameters()),
        "latent_dim": model.latent_dim,
        "encode_latency_ms": encode_latency_ms(model, test),
    }
    m["active_units"] = active_units(model, codes)
    if train is not None:
        stage("kNN")
        m[f"knn{knn_k}_acc"] = knn_accuracy(encode_all(model, train), train.labels, codes, test.labels, knn_k)
    stage(f"{model.variant} metrics")
    m.update(own_metrics(model, test, codes, classifier))
    stage("done")
    return m
