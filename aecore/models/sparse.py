"""A wide-code autoencoder whose units are pushed to be mostly silent."""

from dataclasses import dataclass

import torch
from torch import nn

from aecore.config import param
from aecore.metric_info import Metric
from aecore.models.base import N_PIXELS, Autoencoder, mlp


@dataclass
class SparseConfig:
    latent_dim: int = param(64, "Number of code units", min=2, max=2048)
    hidden: int = param(512, "Width of the hidden layers around the code (0: none)", min=0, max=2048)
    penalty: str = param("kl", "kl: KL of each unit's mean rate to rho; l1: L1 on activations", choices=("kl", "l1"))
    rho: float = param(0.03, "Target mean activation of a unit (kl penalty)", min=0.001, max=0.5)
    weight: float = param(0.05, "Weight of the sparsity penalty", min=0.0, max=100.0, log=True)
    recon_loss: str = param("bce", "Reconstruction loss", choices=("bce", "mse"))


class SparseAE(Autoencoder):
    config_class = SparseConfig
    description = "Sparse autoencoder: sigmoid code units held to a low firing rate (KL to rho, or L1)"
    metric_info = (Metric("mean_activation", "mean activation", ".4f", "lower", "mean firing rate of the code units"),)
    recipe = ({"rho": 0.04, "weight": 0.03}, {"epochs": 40, "batch_size": 128, "lr": 2e-3})  # shipped checkpoint's
    # Quick preset: the output bias starts at the mean digit, so the half-rate code units need not carry it.
    # How it was tuned: docs/tuning.md.
    quick = ({"rho": 0.04, "weight": 0.03},
             {"epochs": 24, "batch_size": 128, "lr": 4e-3, "precision": "auto", "init_output_bias": True})

    def __init__(self, config=None):
        super().__init__(config)
        c = self.config
        hidden = [c.hidden] if c.hidden else []
        # Sigmoid units make "activation" a rate in [0, 1], so KL to rho is well defined.
        self.encoder = nn.Sequential(nn.Flatten(), mlp([N_PIXELS, *hidden, c.latent_dim], nn.Sigmoid()))
        self.decoder = mlp([c.latent_dim, *hidden, N_PIXELS])

    def output_bias(self):
        return self.decoder[-1].bias

    def _encode(self, x, labels):
        return self.encoder(x)

    def _decode_logits(self, z, labels):
        return self.decoder(z)

    def penalties(self, z):
        c = self.config
        if c.penalty == "l1":
            raw = z.abs().sum(1).mean() / c.latent_dim
        else:
            rate = z.mean(0).clamp(1e-6, 1 - 1e-6)
            rho = torch.full_like(rate, c.rho)
            raw = (rho * (rho / rate).log() + (1 - rho) * ((1 - rho) / (1 - rate)).log()).sum()
        return c.weight * raw, {"sparsity": raw}

    def extra_metrics(self, test, codes, classifier=None):
        return {"mean_activation": float(codes.mean())}
