"""Conditional VAE: encoder and decoder both see the digit label (one-hot)."""

from dataclasses import dataclass

import torch
from torch import nn

from aecore.config import param
from aecore.models.base import N_CLASSES, N_PIXELS, mlp, one_hot
from aecore.models.vae import IWAE_K_HELP, MAX_IWAE_K, VAEBase


@dataclass
class CVAEConfig:
    latent_dim: int = param(16, "Size of the latent space (the style; the label gives the digit)", min=1, max=256)
    hidden1: int = param(512, "Width of the first hidden layer", min=16, max=2048)
    hidden2: int = param(256, "Width of the second hidden layer", min=16, max=2048)
    beta: float = param(1.0, "Weight of the KL term (1 = the true ELBO)", min=0.0, max=100.0)
    iwae_k: int = param(1, IWAE_K_HELP, min=1, max=MAX_IWAE_K)


class CVAE(VAEBase):
    config_class = CVAEConfig
    conditional = True
    description = "Conditional VAE: generates a chosen digit, restyles one digit as another"
    # The shipped checkpoint's recipe: the label carries the digit, so a small style space suffices; beta > 1
    # leaves fewer holes between posteriors, so prior samples are recognisable (>= 95% as the digit asked for).
    recipe = ({"latent_dim": 8, "beta": 1.25}, {"epochs": 60, "batch_size": 128, "lr": 2e-3})
    quick = ({"latent_dim": 8, "beta": 1.25}, {"epochs": 12, "batch_size": 128, "lr": 3e-3})  # bench/bench_quick.py

    def __init__(self, config=None):
        super().__init__(config)
        c = self.config
        self.encoder = nn.Sequential(mlp([N_PIXELS + N_CLASSES, c.hidden1, c.hidden2]), nn.ReLU())
        self.to_params = nn.Linear(c.hidden2, 2 * c.latent_dim)
        self.decoder = mlp([c.latent_dim + N_CLASSES, c.hidden2, c.hidden1, N_PIXELS])

    def _encode_params(self, x, labels):
        h = self.encoder(torch.cat([x.flatten(1), one_hot(labels)], dim=1))
        return self.to_params(h).chunk(2, dim=1)

    def _decode_logits(self, z, labels):
        return self.decoder(torch.cat([z, one_hot(labels)], dim=1))
