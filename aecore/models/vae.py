"""Variational autoencoders: Gaussian encoder, Bernoulli decoder, beta-weighted KL."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from aecore.config import param
from aecore.metric_info import Metric
from aecore.models.base import (
    ACTIVATIONS,
    N_PIXELS,
    AEOutput,
    Autoencoder,
    bce_with_logits,
    bernoulli_log_likelihood,
    mlp,
)


def kl_to_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) per example and dimension, in nats."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)


MAX_IWAE_K = 64
IWAE_K_HELP = "Importance samples per image in the training objective (1: the ELBO; more: the tighter IWAE bound)"


class VAEBase(Autoencoder):
    """Shared VAE logic; subclasses give ``_encode_params`` (mu, logvar) and ``_decode_logits``."""

    generative = True
    has_likelihood = True
    headline = "neg_elbo"
    retired_settings = ("recon_loss",)  # always BCE (a Bernoulli decoder); older checkpoints still name it
    metric_info = (
        Metric("recon_nats", "recon nats", ".1f", "lower", "reconstruction part of the -ELBO", "nats"),
        Metric("kl_nats", "KL nats", ".1f", None, "KL part of the -ELBO", "nats"),
        Metric("samples_recognised", "samples recognised", ".1%", "higher",
               "prior samples the reference classifier recognises (> 90% sure)"),
        Metric("samples_as_requested", "samples as asked", ".1%", "higher",
               "conditional samples recognised as the digit asked for"),
    )

    def _encode_params(self, x: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def encode_distribution(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self._check_labels(labels, x.shape[0])
        return self._encode_params(x, labels)

    def _encode(self, x, labels):
        return self._encode_params(x, labels)[0]

    def elbo_terms(self, x: Tensor, labels: Tensor | None = None, generator: torch.Generator | None = None):
        """The VAE loss, defined once: (pixel logits, reconstruction nats per image, KL nats per image, mu)
        with one posterior sample. recon + kl is the negative ELBO that training and the model card use."""
        mu, logvar = self.encode_distribution(x, labels)
        if generator is not None:
            noise = torch.randn(mu.shape, generator=generator).to(mu.device)
        else:  # the run's own generator while training (on mu's device), else the global RNG: like randn_like
            noise = torch.randn(mu.shape, generator=self.rng, device=mu.device, dtype=mu.dtype)
        z = mu + noise * (0.5 * logvar).exp()
        logits = self._decode_logits(z, labels).view_as(x)
        recon = bce_with_logits(logits, x).flatten(1).sum(1)
        return logits, recon, kl_to_standard_normal(mu, logvar).sum(1), mu

    def _draws(self, shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
        """Standard normal draws from ``generator`` (on the CPU), else the run's own while training, else the
        global RNG."""
        if generator is not None:
            return torch.randn(shape, generator=generator).to(like.device)
        if self.rng is not None:
            return torch.randn(shape, generator=self.rng, device=like.device, dtype=like.dtype)
        return like.new_empty(shape).normal_()

    def importance_terms(self, x: Tensor, labels: Tensor | None = None, k: int = 16,
                         generator: torch.Generator | None = None, noise: Tensor | None = None):
        """(log p(x|z), log p(z) - log q(z|x), mu, logvar, logits) for ``k`` posterior samples per image: the
        first two (B, k) in nats, logits (B, k, 784). ``noise`` (B, k, latent_dim) gives the standard normal
        draws themselves (a caller that chunks the samples keeps them the same whatever the chunk)."""
        mu, logvar = self.encode_distribution(x, labels)
        b, d = mu.shape
        if noise is None:
            noise = self._draws((b, k, d), mu, generator)
        k = noise.shape[1]
        std = (0.5 * logvar).exp()
        z = mu[:, None] + noise * std[:, None]
        rep_labels = None if labels is None else labels.repeat_interleave(k)
        logits = self._decode_logits(z.reshape(b * k, d), rep_labels).reshape(b, k, -1)
        log_px_z = bernoulli_log_likelihood(logits, x.flatten(1))
        # log N(z; 0, 1) - log N(z; mu, std): the 2-pi constants cancel
        log_prior_ratio = (-0.5 * z.pow(2) + 0.5 * noise.pow(2) + 0.5 * logvar[:, None]).sum(2)
        return log_px_z, log_prior_ratio, mu, logvar, logits

    def log_weights(self, x: Tensor, labels: Tensor | None = None, k: int = 16,
                    generator: torch.Generator | None = None, noise: Tensor | None = None) -> Tensor:
        """Importance log-weights log p(x|z) + log p(z) - log q(z|x) for ``k`` posterior samples per image,
        (B, k) in nats: their mean is the ELBO, their log-mean-exp the k-sample bound on log p(x) (IWAE)."""
        log_px_z, log_prior_ratio, *_ = self.importance_terms(x, labels, k, generator, noise)
        return log_px_z + log_prior_ratio

    def forward(self, x: Tensor, labels: Tensor | None = None) -> AEOutput:
        k = getattr(self.config, "iwae_k", 1)
        if k == 1:
            logits, recon, kl, mu = self.elbo_terms(x, labels)
            recon, kl = recon.mean(), kl.mean()
            return AEOutput(logits, mu, recon + self.config.beta * kl, {"recon": recon, "kl": kl})
        # IWAE (Burda et al. 2016): minimise -log mean_k w_k, a bound on -log p(x) that tightens as k grows.
        # beta weighs the prior ratio as it weighs the KL (1: the true bound). The terms stay the -ELBO's parts
        # (reconstruction over the k samples, the exact KL), so loss < recon + kl shows what the k samples buy.
        log_px_z, log_prior_ratio, mu, logvar, logits = self.importance_terms(x, labels, k)
        bound = torch.logsumexp(log_px_z + self.config.beta * log_prior_ratio, 1) - math.log(k)
        recon, kl = -log_px_z.mean(), kl_to_standard_normal(mu, logvar).sum(1).mean()
        return AEOutput(logits[:, 0].reshape_as(x), mu, -bound.mean(), {"recon": recon, "kl": kl})

    @torch.no_grad()
    def sample(self, n: int, label: int | Tensor | None = None, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> Tensor:
        """Decode ``n`` draws from the prior N(0, temperature^2 I)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device) * temperature
        return self.decode(z, self.labels_for(label, n))


@dataclass
class VAEConfig:
    latent_dim: int = param(16, "Size of the latent space", min=1, max=256)
    hidden1: int = param(512, "Width of the first hidden layer", min=16, max=2048)
    hidden2: int = param(256, "Width of the second hidden layer", min=16, max=2048)
    beta: float = param(1.0, "Weight of the KL term (1 = the true ELBO)", min=0.0, max=100.0)
    activation: str = param("relu", "Nonlinearity of the hidden layers (tanh: Burda et al.'s IWAE network)",
                            choices=tuple(ACTIVATIONS))
    iwae_k: int = param(1, IWAE_K_HELP, min=1, max=MAX_IWAE_K)


class VAE(VAEBase):
    config_class = VAEConfig
    description = "Variational autoencoder (MLP): Gaussian encoder, Bernoulli decoder, beta-weighted KL"
    # The shipped checkpoint's recipe (aecore pretrain); half of each batch as other writers draw (augment): it
    # reconstructs drawings and photos nearly as well as MNIST, at a small cost on MNIST (docs/tuning.md).
    recipe = ({}, {"epochs": 40, "batch_size": 128, "lr": 2e-3, "augment": 0.5})
    quick = ({}, {"epochs": 12, "batch_size": 128, "lr": 3e-3})  # bench/bench_quick.py

    def __init__(self, config=None):
        super().__init__(config)
        c = self.config
        act = c.activation
        self.encoder = nn.Sequential(nn.Flatten(), mlp([N_PIXELS, c.hidden1, c.hidden2], activation=act),
                                     ACTIVATIONS[act]())
        self.to_params = nn.Linear(c.hidden2, 2 * c.latent_dim)
        self.decoder = mlp([c.latent_dim, c.hidden2, c.hidden1, N_PIXELS], activation=act)

    def _encode_params(self, x, labels):
        return self.to_params(self.encoder(x)).chunk(2, dim=1)

    def _decode_logits(self, z, labels):
        return self.decoder(z)
