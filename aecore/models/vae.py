"""Variational autoencoders: Gaussian encoder, Bernoulli decoder, beta-weighted KL."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from aecore.config import param
from aecore.models.base import N_PIXELS, AEOutput, Autoencoder, mlp, reconstruction_loss


def kl_to_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) per example and dimension, in nats."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)


class VAEBase(Autoencoder):
    """Shared VAE logic; subclasses give ``_encode_params`` (mu, logvar) and ``_decode_logits``."""

    generative = True

    def _encode_params(self, x: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def encode_distribution(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self._check_labels(labels, x.shape[0])
        return self._encode_params(x, labels)

    def _encode(self, x, labels):
        return self._encode_params(x, labels)[0]

    def forward(self, x: Tensor, labels: Tensor | None = None) -> AEOutput:
        mu, logvar = self.encode_distribution(x, labels)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        logits = self._decode_logits(z, labels).view_as(x)
        # Sums per image in nats, so recon + kl is the negative ELBO the model card reports.
        recon = reconstruction_loss(logits, x, "bce", per_image=True)
        kl = kl_to_standard_normal(mu, logvar).sum(1).mean()
        return AEOutput(torch.sigmoid(logits), mu, recon + self.config.beta * kl, {"recon": recon, "kl": kl})

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
    recon_loss: str = param("bce", "Bernoulli decoder: binary cross-entropy", choices=("bce",))


class VAE(VAEBase):
    config_class = VAEConfig
    description = "Variational autoencoder (MLP): Gaussian encoder, Bernoulli decoder, beta-weighted KL"

    def __init__(self, config=None):
        super().__init__(config)
        c = self.config
        self.encoder = nn.Sequential(nn.Flatten(), mlp([N_PIXELS, c.hidden1, c.hidden2]), nn.ReLU())
        self.to_params = nn.Linear(c.hidden2, 2 * c.latent_dim)
        self.decoder = mlp([c.latent_dim, c.hidden2, c.hidden1, N_PIXELS])

    def _encode_params(self, x, labels):
        return self.to_params(self.encoder(x)).chunk(2, dim=1)

    def _decode_logits(self, z, labels):
        return self.decoder(z)
