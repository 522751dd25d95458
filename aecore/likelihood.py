"""The test log-likelihood as the literature reports it: -log p(x) estimated with K importance samples per digit,
-log (1/K) sum_k p(x, z_k) / q(z_k | x), z_k ~ q(z | x) (Burda et al. 2016, section 5: K = 5000).

The K samples are taken in chunks, so memory stays bounded whatever K is; each digit's log-sum-exp is accumulated
across chunks in float64. Every sample's noise is drawn on its own from one seeded generator, so the chunk size
changes nothing but memory and speed. The standard error is over test digits (the spread of the per-digit
estimates), which is what separates two models; the estimate itself is biased high by a shrinking amount as K grows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch

from aecore.data import ImageData
from aecore.errors import InputError
from aecore.seeding import generator

MAX_K = 100_000
ROWS = 20_000  # decoded samples per step (digits x samples): about 60 MB of logits per buffer


def _standard_error(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")


@torch.no_grad()
def importance_nll(model, data: ImageData, k: int = 5000, seed: int = 0, batch_size: int = 100,
                   chunk: int | None = None, on_progress: Callable[[float], None] | None = None) -> dict:
    """-log p(x) in nats per digit of ``data``, averaged, with its standard error, and the -ELBO from the same
    samples (their mean log-weight): ``{"nll", "nll_se", "neg_elbo", "neg_elbo_se", "k", "n", "seconds"}``.

    ``chunk`` samples per digit are decoded at a time (default: ``ROWS // batch_size``)."""
    if not getattr(model, "has_likelihood", False):
        raise InputError(f"{model.variant} has no likelihood: importance sampling needs a VAE variant")
    if not 1 <= k <= MAX_K:
        raise InputError(f"K = {k} importance samples is out of range: allowed 1 to {MAX_K:,}")
    chunk = max(1, min(k, chunk or ROWS // batch_size))
    model.eval()
    device = next(model.parameters()).device
    gen = generator(seed)
    n, d = len(data), model.latent_dim
    nll, neg_elbo = np.empty(n), np.empty(n)
    t0 = time.perf_counter()
    for start in range(0, n, batch_size):
        x = data.images[start:start + batch_size].to(device)
        labels = data.labels[start:start + batch_size].to(device) if model.conditional else None
        b = len(x)
        log_sum = torch.full((b,), -math.inf, dtype=torch.float64, device=device)
        weight_sum = torch.zeros(b, dtype=torch.float64, device=device)
        for done in range(0, k, chunk):
            c = min(chunk, k - done)
            # one draw per sample (b, d): the same numbers whatever the chunk size
            noise = torch.stack([torch.randn((b, d), generator=gen) for _ in range(c)], 1).to(device)
            log_w = model.log_weights(x, labels, noise=noise).double()
            log_sum = torch.logaddexp(log_sum, torch.logsumexp(log_w, 1))
            weight_sum += log_w.sum(1)
        nll[start:start + b] = (math.log(k) - log_sum).cpu().numpy()
        neg_elbo[start:start + b] = (-weight_sum / k).cpu().numpy()
        if on_progress:
            on_progress(min(1.0, (start + b) / n))
    return {"nll": float(nll.mean()), "nll_se": _standard_error(nll), "neg_elbo": float(neg_elbo.mean()),
            "neg_elbo_se": _standard_error(neg_elbo), "k": k, "n": n, "seconds": time.perf_counter() - t0}
