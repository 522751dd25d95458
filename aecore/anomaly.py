"""Anomaly lens: per-image scores of how strange an image looks to a model, and how well each score
separates the model's own test split from out-of-distribution (OOD) sets, as the literature measures it.

Scores (higher = stranger), every model:

- ``mse``: reconstruction error per pixel; ``bce``: reconstruction cross-entropy in nats per image.

Models with a likelihood (the VAE family, ``has_likelihood``):

- ``neg_elbo``: the negative ELBO, and ``nll``: -log p(x) estimated by importance sampling with ``k``
  posterior samples (the IWAE bound), both in nats per image.

Corrected for input complexity (Serrà et al., ICLR 2020, "Input complexity and out-of-distribution
detection with likelihood-based generative models"): ``S(x) = -log2 p(x) - L(x)``, where ``L(x)`` is
the length in bits of the image compressed losslessly as PNG. Raw likelihoods are dominated by how
simple an image is: a model of Fashion-MNIST gives MNIST digits, mostly black, a *higher* likelihood
than its own clothes (Nalisnick et al., ICLR 2019). Subtracting the compressed length, a universal
model's code length, turns the likelihood into a likelihood ratio against "any image of that
complexity". We chose it over the background-model ratio of Ren et al. (NeurIPS 2019) because it
needs no second model trained per dataset, applies to every model (``bce_corrected`` for the others)
and has no tuning knob. ``nll_corrected`` and ``bce_corrected`` are in bits.

Conditional models are not told the label (an anomaly detector does not know it): each image gets the
label that reconstructs it best, and the likelihoods add log 10 for a uniform label prior.

OOD sets are made locally: the other dataset (MNIST <-> Fashion-MNIST), uniform noise, and the
model's own test images inverted (1 - x); :func:`ood_set`. AUROC treats OOD images as positives;
FPR95 is the share of the in-distribution test split flagged at the threshold that catches 95% of
the OOD set (lower is better).
"""

from __future__ import annotations

import functools
import io
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from aecore import cache, storage
from aecore.data import ImageData, load
from aecore.models.base import N_CLASSES, bce
from aecore.ood import ood_set, set_names, summary
from aecore.seeding import generator

K_SAMPLES = 4  # importance samples per image for nll: enough to tighten the ELBO, cheap enough for conv decoders
SCORES_VERSION = 1  # part of the cache key: bump when a score's definition changes
LN2 = math.log(2)


@dataclass(frozen=True)
class Score:
    key: str
    label: str
    unit: str
    help: str
    needs_likelihood: bool = False
    corrected: bool = False  # minus the PNG length (Serrà et al.)


SCORES = (
    Score("mse", "reconstruction MSE", "per pixel", "mean squared error between the image and its reconstruction"),
    Score("bce", "reconstruction BCE", "nats", "binary cross-entropy of the reconstruction, summed over pixels"),
    Score("bce_corrected", "BCE − PNG length", "bits",
          "reconstruction BCE in bits minus the image's PNG length: corrected for input complexity", corrected=True),
    Score("neg_elbo", "−ELBO", "nats", "negative evidence lower bound", needs_likelihood=True),
    Score("nll", "−log p(x)", "nats", f"negative log-likelihood, importance-sampled ({K_SAMPLES} samples)",
          needs_likelihood=True),
    Score("nll_corrected", "−log p(x) − PNG length", "bits",
          "negative log-likelihood in bits minus the PNG length (Serrà et al., ICLR 2020)",
          needs_likelihood=True, corrected=True),
)
SCORE_BY_KEY = {s.key: s for s in SCORES}


def scores_for(model_or_entry) -> list[Score]:
    """The scores a model (or catalog entry) has, in display order."""
    return _scores(model_or_entry.can("has_likelihood") if hasattr(model_or_entry, "can")
                   else model_or_entry.has_likelihood)


def _scores(likelihood: bool) -> list[Score]:
    return [s for s in SCORES if likelihood or not s.needs_likelihood]


def png_bits(images: torch.Tensor) -> np.ndarray:
    """Length in bits of each image (N, 1, 28, 28) in [0, 1] as an 8-bit greyscale PNG (zlib level 9)."""
    from PIL import Image

    pixels = (images.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    out = np.empty(len(pixels), np.float32)
    for i, img in enumerate(pixels):
        buf = io.BytesIO()
        Image.fromarray(img.reshape(img.shape[-2:])).save(buf, format="PNG", compress_level=9)
        out[i] = 8 * buf.tell()
    return out


def _bce(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of each reconstruction, in nats summed over pixels (clamped: no log 0)."""
    return bce(recon, x, eps=1e-6).flatten(1).sum(1)


@torch.no_grad()
def _reconstruct(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(reconstruction, labels): for a conditional model, each image's best-fitting label (by BCE of the
    posterior-mean reconstruction) and that label's reconstruction; otherwise the plain one and None."""
    if not model.conditional:
        return model.reconstruct(x), None
    recons = torch.stack([model.reconstruct(x, model.labels_for(y, len(x))) for y in range(N_CLASSES)])
    labels = torch.stack([_bce(r, x) for r in recons]).argmin(0)
    return recons[labels, torch.arange(len(x))], labels


@torch.no_grad()
def _batch_scores(model, x: torch.Tensor, k: int, gen) -> dict[str, torch.Tensor]:
    recon, labels = _reconstruct(model, x)  # the posterior mean for VAEs, as everywhere else in the app
    out = {}
    if model.has_likelihood:
        logw = model.log_weights(x, labels, k, generator=gen)
        # Label unknown: p(x) = mean over labels of p(x|y) >= p(x|best label) / 10, so adding log 10
        # to the best label's -log p(x|y) is an upper bound, tight when one label explains the image.
        prior = math.log(N_CLASSES) if model.conditional else 0.0
        out = {"neg_elbo": -logw.mean(1) + prior, "nll": -(torch.logsumexp(logw, 1) - math.log(k)) + prior}
    out["mse"] = (recon.clamp(1e-6, 1 - 1e-6) - x).flatten(1).pow(2).mean(1)
    out["bce"] = _bce(recon, x)
    return out


@torch.no_grad()
def compute_scores(model, images: torch.Tensor, k: int = K_SAMPLES, seed: int = 0, batch_size: int = 500,
                   complexity: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every score of :func:`scores_for` for each image (N, 1, 28, 28): {key: (N,) float32}.
    ``complexity``: the images' :func:`png_bits`, when already known."""
    model.eval()
    device = next(model.parameters()).device
    gen = generator(seed)
    parts: dict[str, list] = {}
    for i in range(0, len(images), batch_size):
        for key, value in _batch_scores(model, images[i: i + batch_size].to(device), k, gen).items():
            parts.setdefault(key, []).append(value.float().cpu())
    out = {key: torch.cat(v).numpy() for key, v in parts.items()}
    bits = png_bits(images) if complexity is None else complexity
    out["bce_corrected"] = out["bce"] / LN2 - bits
    if "nll" in out:
        out["nll_corrected"] = out["nll"] / LN2 - bits
    return {s.key: out[s.key].astype(np.float32) for s in scores_for(model)}


# ---- cached per model and image set -----------------------------------------------------------------

def scores_name(model_sha: str, dkey: str, k: int = K_SAMPLES, seed: int = 0) -> str:
    return cache.name("anomaly", model=model_sha, data=dkey, k=k, seed=seed, version=SCORES_VERSION)


def image_set_key(data: ImageData) -> str:
    from aecore.projection import data_key

    return data_key(data)


def _model(model):
    """A model, or a zero-argument function that loads one (so shipped scores never load the model)."""
    return model if isinstance(model, torch.nn.Module) else model()


def cached_scores(model, model_sha: str, data: ImageData, k: int = K_SAMPLES, folder=None,
                  dkey: str | None = None, likelihood: bool | None = None) -> tuple[dict[str, np.ndarray], str | None]:
    """Scores of every image in ``data``, from the shipped folder or the cache, else computed and cached.
    ``model`` may be a function that loads it, called only on a miss (then say ``likelihood``: whether it
    has one).

    Returns (scores, where): where is "shipped", "cache" or None (computed now). With ``folder``, only
    that folder is read and written (how the precompute script fills assets/)."""
    dkey = dkey or image_set_key(data)
    name = scores_name(model_sha, dkey, k)
    wanted = [s.key for s in _scores(model.has_likelihood if likelihood is None else likelihood)]
    from aecore.device import compute_copy

    def compute() -> dict:
        return compute_scores(compute_copy(_model(model)), data.images, k, complexity=complexity(data, dkey, folder))

    arrays, where = cache.cached(name, lambda a: all(key in a and len(a[key]) == len(data) for key in wanted),
                                 compute, folder)
    return (arrays if where is None else {key: arrays[key].astype(np.float32) for key in wanted}), where


def complexity_name(dkey: str) -> str:
    return cache.name("complexity", data=dkey, version=SCORES_VERSION)


def complexity(data: ImageData, dkey: str | None = None, folder=None) -> np.ndarray:
    """:func:`png_bits` of every image in ``data``, cached (it depends on the images only)."""
    arrays, where = cache.cached(complexity_name(dkey or image_set_key(data)),
                                 lambda a: len(a.get("values", ())) == len(data),
                                 lambda: {"values": png_bits(data.images)}, folder)
    return arrays["values"] if where is None else arrays["values"].astype(np.float32)


@functools.lru_cache(maxsize=8)
def _image_sets(dataset: str, against: tuple[str, ...], root: str) -> dict[str, tuple[ImageData, str]]:
    """The test split and the OOD sets with their content keys, made once per process (they depend only on
    the data, and every source of a test split holds the same images)."""
    sets = {"test": load(dataset, "test", root)} | {name: ood_set(name, dataset, data_dir=root) for name in against}
    return {name: (data, image_set_key(data)) for name, data in sets.items()}


def evaluate_ood(model, model_sha: str, dataset: str, against: list[str] | None = None, k: int = K_SAMPLES,
                 data_dir=None, folder=None, likelihood: bool | None = None) -> dict:
    """Scores of the test split and each OOD set, and the AUROC/FPR95 table: what ``aecore ood`` and the
    Anomalies page show. ``model`` may be a function that loads it (see :func:`cached_scores`).
    ``where`` says where the scores came from ("shipped", "cache" or "computed"), ``seconds`` how long it
    took, ``entries`` which cache entries hold them."""
    t0 = time.perf_counter()
    images = _image_sets(dataset, tuple(against or set_names(dataset)), str(storage.data_root(data_dir)))
    test = images["test"][0]
    scores, where, entries = {}, set(), []
    for name, (data, dkey) in images.items():
        scores[name], hit = cached_scores(model, model_sha, data, k, folder, dkey, likelihood)
        where.add(hit or "computed")
        entries += [scores_name(model_sha, dkey, k), complexity_name(dkey)]
    scores_in = scores.pop("test")
    return {"test": scores_in, "sets": scores, "rows": summary(scores_in, scores), "source": test.source,
            "labels": test.labels.numpy(), "where": "computed" if "computed" in where else min(where),
            "seconds": time.perf_counter() - t0, "entries": entries}


def best_score(rows: list[dict]) -> str:
    """The score with the highest mean AUROC over the OOD sets: the one to judge a new image by."""
    keys = list(dict.fromkeys(r["score"] for r in rows))
    return max(keys, key=lambda key: np.mean([r["auroc"] for r in rows if r["score"] == key]))
