"""The one contract every autoencoder follows: ``forward`` returns an :class:`AEOutput`.

Subclasses implement ``_encode`` (images -> code) and ``_decode_logits`` (code -> pixel logits);
the base class turns those into ``encode``, ``decode``, ``reconstruct`` and the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aecore.config import validate
from aecore.errors import InputError
from aecore.metric_info import Metric
from aecore.models.variants import name_of

IMAGE_SHAPE = (1, 28, 28)
N_PIXELS = 28 * 28
N_CLASSES = 10


@dataclass
class AEOutput:
    """What every model's forward returns, so one loop, one checkpoint and one test suite serve all."""

    logits: Tensor  # (B, 1, 28, 28) pixel logits: the reconstruction before its sigmoid
    latent: Tensor  # (B, latent_dim): the code used downstream (the mean for VAEs)
    loss: Tensor  # scalar that training minimises
    terms: dict[str, Tensor]  # named, unweighted scalar loss terms, for curves and reports

    @cached_property
    def reconstruction(self) -> Tensor:
        """(B, 1, 28, 28) in [0, 1], made when first asked for: a training step never needs it."""
        return torch.sigmoid(self.logits)


def _softplus_values(x: Tensor) -> Tensor:
    """softplus(x) = log(1 + exp(x)) as log(1 + exp(-|x|)) + max(x, 0), in place on a fresh tensor.

    torch's own softplus and BCE kernels take their log through log1p, which this CPU build runs unvectorised
    (docs/speed.md, docs/tuning.md: a large share of a dense or IWAE step). A plain log differs from log1p by under
    6e-8 per pixel (where 1 + exp(-|x|) rounds to 1); no gradient uses it."""
    return x.abs().neg_().exp_().add_(1).log_().add_(x.clamp_min(0))


class _Softplus(torch.autograd.Function):
    """softplus in fp32 through :func:`_softplus_values`, with the exact gradient sigmoid(x)."""

    @staticmethod
    def forward(ctx, logits: Tensor) -> Tensor:
        x = logits.float()
        ctx.save_for_backward(x)
        ctx.dtype = logits.dtype
        return _softplus_values(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (x,) = ctx.saved_tensors
        return (grad * torch.sigmoid(x)).to(ctx.dtype)


class _BCEWithLogits(torch.autograd.Function):
    """Per-element binary cross-entropy of pixel logits, softplus(x) - x t in fp32 (:func:`_softplus_values`),
    with the exact gradient sigmoid(x) - t."""

    @staticmethod
    def forward(ctx, logits: Tensor, target: Tensor) -> Tensor:
        x, t = logits.float(), target.float()
        ctx.save_for_backward(x, t)
        ctx.dtypes = logits.dtype, target.dtype
        return _softplus_values(x).sub_(x * t)  # in place: fewer buffers

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, t = ctx.saved_tensors
        grad_logits = (grad * (torch.sigmoid(x) - t)).to(ctx.dtypes[0]) if ctx.needs_input_grad[0] else None
        grad_target = (-grad * x).to(ctx.dtypes[1]) if ctx.needs_input_grad[1] else None
        return grad_logits, grad_target


def bce_with_logits(logits: Tensor, target: Tensor) -> Tensor:
    """Binary cross-entropy per element between pixel logits and targets in [0, 1] (nats, fp32): the one
    definition every loss, bound and score uses."""
    return _BCEWithLogits.apply(logits, target)


def bernoulli_log_likelihood(logits: Tensor, target: Tensor) -> Tensor:
    """log p(target | logits) summed over pixels, for logits (B, k, P) and targets (B, P) in [0, 1]: (B, k) nats.

    The same quantity as ``-bce_with_logits(...).sum(-1)`` (BCE is softplus(l) - t * l, exactly), computed as a
    batched matrix product and one fused softplus: over twice as fast, for the thousands of samples per digit of
    an importance-sampled likelihood. Under autograd (IWAE training) the product is an elementwise one, whose
    backward is far cheaper than bmm's (docs/tuning.md)."""
    target = target.unsqueeze(1).to(logits.dtype)
    agreement = (logits * target).sum(2) if logits.requires_grad else torch.bmm(logits, target.mT).squeeze(2)
    return agreement - _Softplus.apply(logits).sum(2)


def bce(probabilities: Tensor, target: Tensor, eps: float = 1e-6) -> Tensor:
    """:func:`bce_with_logits` of pixel probabilities (clamped to [eps, 1 - eps], so no log 0)."""
    return bce_with_logits(torch.logit(probabilities, eps=eps), target)


def reconstruction_loss(logits: Tensor, target: Tensor, kind: str, per_image: bool = False) -> Tensor:
    """BCE or MSE between predicted pixels and target, averaged per pixel or summed per image."""
    if kind == "bce":
        loss = bce_with_logits(logits, target)
    else:
        if not per_image:  # the mean over every pixel in one fused call (a training step's common case)
            return F.mse_loss(torch.sigmoid(logits), target)
        loss = F.mse_loss(torch.sigmoid(logits), target, reduction="none")
    return loss.flatten(1).sum(1).mean() if per_image else loss.mean()


class Autoencoder(nn.Module):
    """Base for all variants. ``config_class`` is the dataclass of its hyperparameters."""

    config_class: ClassVar[type]
    description: ClassVar[str] = ""
    generative: ClassVar[bool] = False  # has a prior to sample from
    conditional: ClassVar[bool] = False  # encoder and decoder see the label
    train_defaults: ClassVar[dict] = {}  # TrainConfig overrides that suit this variant
    # (model config, TrainConfig overrides) that train the shipped checkpoint: ``aecore pretrain``'s recipe.
    recipe: ClassVar[tuple[dict, dict]] = ({}, {})
    # (model config, TrainConfig overrides) for a live demo: within 10% of the shipped model's ``headline``
    # metric after at most a minute of training on 2 CPU cores (``aecore train --quick``, the Train page).
    quick: ClassVar[tuple[dict, dict]] = ({}, {})
    headline: ClassVar[str] = "test_mse"  # the metric (a key of metrics.evaluate) a recipe is judged by
    retired_settings: ClassVar[tuple[str, ...]] = ()  # config keys older checkpoints have and loading drops
    denoises: ClassVar[bool] = False  # trained to map corrupted inputs to clean ones
    has_codebook: ClassVar[bool] = False  # codes are entries of a learned codebook (code_indices gives them)
    has_likelihood: ClassVar[bool] = False  # log_weights() gives importance weights, so log p(x) can be estimated
    metric_info: ClassVar[tuple[Metric, ...]] = ()  # how to show the keys extra_metrics returns
    # Where the random draws of a forward pass (a VAE's posterior sample, the denoiser's corruption, a codebook
    # restart) come from: train() sets a generator of the run's own on the model's device, so another thread's use
    # of torch's global RNG never changes a seeded run; None draws from the global RNG.
    rng: torch.Generator | None = None

    def __init__(self, config=None):
        super().__init__()
        self.config = config if config is not None else self.config_class()
        validate(self.config)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def output_bias(self) -> Tensor | None:
        """The last layer's per-pixel bias (before the sigmoid), for models that have one."""
        return None

    @property
    def variant(self) -> str:
        return name_of(type(self))

    def _encode(self, x: Tensor, labels: Tensor | None) -> Tensor:
        raise NotImplementedError

    def _decode_logits(self, z: Tensor, labels: Tensor | None) -> Tensor:
        raise NotImplementedError

    def _check_labels(self, labels: Tensor | None, n: int) -> None:
        """Every model takes the digit labels; only conditional models need (and read) them."""
        if self.conditional and labels is None:
            raise InputError(f"{self.variant} is conditional: pass the digit labels")
        if labels is not None and self.conditional and labels.shape[0] != n:
            raise InputError(f"got {labels.shape[0]} labels for {n} inputs")

    def labels_for(self, label: int | Tensor | None, n: int) -> Tensor | None:
        """Labels for ``n`` inputs from one digit or a tensor of them; None for unconditional models."""
        if not self.conditional:
            return None
        if label is None:
            raise InputError(f"{self.variant} is conditional: say which digit")
        device = next(self.parameters()).device
        t = torch.as_tensor(label, device=device).long()
        return t.expand(n).clone() if t.dim() == 0 else t

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images (B, 1, 28, 28) in [0, 1] -> codes (B, latent_dim)."""
        self._check_labels(labels, x.shape[0])
        return self._encode(x, labels)

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Codes (B, latent_dim) -> images (B, 1, 28, 28) in [0, 1]."""
        self._check_labels(labels, z.shape[0])
        return torch.sigmoid(self._decode_logits(z, labels)).view(-1, *IMAGE_SHAPE)

    def reconstruct(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.decode(self.encode(x, labels), labels)

    def corrupt(self, x: Tensor) -> Tensor:
        """The input the model trains on; only the denoising variant changes it."""
        return x

    def set_progress(self, done: float) -> None:
        """Hear the share of the training run done, in [0, 1]: the loop calls it every step and with 1 at the
        end, for a training objective that follows a schedule (the denoising variant's noise warm-up)."""

    def objective_warmup(self) -> tuple[float, str] | None:
        """(share of the run, what happens in it) while the training objective itself still ramps up, or None:
        the live loss curves mark that stretch, where the training loss may rise."""
        return None

    def penalties(self, z: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Extra weighted loss and named raw terms on the code; none by default."""
        return z.new_zeros(()), {}

    def extra_metrics(self, test, codes: Tensor, classifier=None) -> dict:
        """Metrics only this variant has (on the test split, given its codes), for ``metrics.evaluate``;
        each key is described in ``metric_info``."""
        return {}

    def forward(self, x: Tensor, labels: Tensor | None = None) -> AEOutput:
        z = self.encode(self.corrupt(x), labels)
        logits = self._decode_logits(z, labels).view(-1, *IMAGE_SHAPE)
        recon = reconstruction_loss(logits, x, self.config.recon_loss)
        extra, terms = self.penalties(z)
        loss = recon + extra if terms else recon  # no penalty terms: no zero to add (and differentiate)
        return AEOutput(logits, z, loss, {"recon": recon, **terms})


ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}  # hidden-layer nonlinearities a config may name


def mlp(sizes: list[int], final_activation: nn.Module | None = None, activation: str = "relu") -> nn.Sequential:
    """Linear layers with ``activation`` (ReLU by default) between them (and an optional activation at the end).
    Every activation has no parameters, so the layer indices, hence the weights' names, are the same for all."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    if final_activation is not None:
        layers.append(final_activation)
    return nn.Sequential(*layers)


def one_hot(labels: Tensor) -> Tensor:
    return F.one_hot(labels.long(), N_CLASSES).float()
