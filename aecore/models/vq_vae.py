"""VQ-VAE (van den Oord et al., 2017): a 7x7 grid of vectors, each snapped to the nearest entry of a
learned codebook. The codebook follows its assigned encoder outputs by exponential moving averages
(no codebook loss), the encoder is held near its codes by a commitment loss, gradients pass the
quantiser straight through, and entries nobody uses are restarted on encoder outputs of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aecore.config import param
from aecore.metric_info import Metric
from aecore.models.base import AEOutput, Autoencoder, reconstruction_loss

GRID = 7  # positions per side of the code grid


@dataclass
class VQVAEConfig:
    code_dim: int = param(16, "Length of each codebook vector", min=2, max=128)
    codebook_size: int = param(256, "Number of codebook entries", min=8, max=4096)
    channels: int = param(64, "Channels of the convolutions", min=8, max=256)
    commitment: float = param(0.25, "Weight of the commitment loss (encoder output to its code)", min=0.0,
                              max=10.0)
    decay: float = param(0.99, "EMA decay of the codebook updates", min=0.5, max=0.9999)
    recon_loss: str = param("bce", "Reconstruction loss", choices=("bce", "mse"))


class VectorQuantizer(nn.Module):
    """Nearest-entry quantisation with EMA codebook updates and dead-code restarts (all in buffers, so a
    checkpoint holds the codebook)."""

    def __init__(self, size: int, dim: int, decay: float, eps: float = 1e-5, restart_below: float = 1.0):
        super().__init__()
        # restart_below: an entry chosen less than this many times per batch (EMA) counts as dead.
        self.decay, self.eps, self.restart_below = decay, eps, restart_below
        self.register_buffer("codebook", torch.empty(size, dim))
        self.register_buffer("ema_count", torch.ones(size))
        self.register_buffer("ema_sum", torch.empty(size, dim))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """A random start (replaced by encoder outputs on the first training step); seeding.init_weights passes
        its generator."""
        codebook = torch.randn(self.codebook.shape, generator=generator) * 0.1
        self.codebook.copy_(codebook)
        self.ema_sum.copy_(codebook)

    def assign(self, z: Tensor) -> Tensor:
        """Index of the nearest codebook entry for each row of ``z`` (N, dim)."""
        # |z - c|^2 = |z|^2 - 2 z.c + |c|^2, and |z|^2 is the same for every entry, so it is left out: one fused
        # product instead of three (B*49, size) temporaries.
        return torch.addmm((self.codebook ** 2).sum(1), z, self.codebook.T, alpha=-2).argmin(1)

    def forward(self, z: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """(quantised z with straight-through gradients, indices); ``generator`` picks restarted entries."""
        # fp32 even when training under bf16 autocast: the nearest-entry search and the codebook's running
        # averages need the precision, and the codebook buffers are fp32.
        with torch.autocast(z.device.type, enabled=False):
            z = z.float()
            index = self.assign(z.detach())
            quantised = self.codebook[index]
            if self.training:
                self._update(z.detach(), index, generator)
            return z + (quantised - z).detach(), index

    @torch.no_grad()
    def _update(self, z: Tensor, index: Tensor, generator: torch.Generator | None = None) -> None:
        if not self.initialised:  # start from encoder outputs, not from noise far away from them
            self._restart(torch.ones(len(self.codebook), dtype=torch.bool, device=z.device), z, generator)
            self.initialised.fill_(True)
            return
        # Per-entry counts and sums by scattering rows (not a one-hot matrix product: 1/8 of the step's time).
        counts = torch.bincount(index, minlength=len(self.codebook)).to(z.dtype)
        sums = torch.zeros_like(self.ema_sum).index_add_(0, index, z)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.ema_count.sum()
        smoothed = (self.ema_count + self.eps) / (n + len(self.codebook) * self.eps) * n  # Laplace smoothing
        self.codebook.copy_(self.ema_sum / smoothed[:, None])
        dead = self.ema_count < self.restart_below
        if dead.any():  # restart unused entries on random encoder outputs, so the whole codebook works
            self._restart(dead, z, generator)

    def _restart(self, which: Tensor, z: Tensor, generator: torch.Generator | None = None) -> None:
        pick = torch.randint(len(z), (int(which.sum()),), device=z.device, generator=generator)
        self.codebook[which] = z[pick]
        self.ema_sum[which] = z[pick] * self.restart_below * 2
        self.ema_count[which] = self.restart_below * 2


class VQVAE(Autoencoder):
    config_class = VQVAEConfig
    description = "VQ-VAE: a 7x7 grid of codes, each one of a learned codebook's entries"
    has_codebook = True
    metric_info = (
        Metric("codebook_perplexity", "codebook perplexity", ".1f", "higher",
               "effective number of codebook entries in use"),
        Metric("codebook_usage", "codebook used", ".1%", "higher", "share of codebook entries used on the test split"),
    )
    # The shipped checkpoint's recipe (aecore pretrain).
    recipe = ({}, {"epochs": 15, "batch_size": 128, "lr": 2e-3})
    # Quick preset: small batches, an orthogonal start and a faster-following codebook. Tuning: docs/tuning.md.
    quick = ({"decay": 0.95}, {"epochs": 4, "batch_size": 64, "lr": 2e-2, "precision": "auto",
                               "orthogonal_init": True})

    def __init__(self, config=None):
        super().__init__(config)
        c = self.config
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c.channels // 2, 4, stride=2, padding=1), nn.ReLU(),  # 14x14
            nn.Conv2d(c.channels // 2, c.channels, 4, stride=2, padding=1), nn.ReLU(),  # 7x7
            nn.Conv2d(c.channels, c.channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c.channels, c.code_dim, 1),
        )
        self.quantizer = VectorQuantizer(c.codebook_size, c.code_dim, c.decay)
        self.decoder = nn.Sequential(
            nn.Conv2d(c.code_dim, c.channels, 3, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c.channels, c.channels // 2, 4, stride=2, padding=1), nn.ReLU(),  # 14x14
            nn.ConvTranspose2d(c.channels // 2, 1, 4, stride=2, padding=1),  # 28x28 logits
        )

    @property
    def latent_dim(self) -> int:
        return GRID * GRID * self.config.code_dim

    def _grid(self, x: Tensor) -> Tensor:
        """Encoder outputs as rows: (B * 49, code_dim)."""
        return self.encoder(x).permute(0, 2, 3, 1).reshape(-1, self.config.code_dim)

    def _encode(self, x, labels):
        quantised, _ = self.quantizer(self._grid(x))
        return quantised.reshape(len(x), -1)

    def code_indices(self, x: Tensor) -> Tensor:
        """Which codebook entry sits at each grid position: (B, 7, 7) integers."""
        return self.quantizer.assign(self._grid(x)).reshape(len(x), GRID, GRID)

    def _decode_logits(self, z, labels):
        grid = z.reshape(len(z), GRID, GRID, self.config.code_dim).permute(0, 3, 1, 2)
        return self.decoder(grid)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> AEOutput:
        z = self._grid(x)
        quantised, _ = self.quantizer(z, self.rng)
        commitment = F.mse_loss(z, quantised.detach())
        logits = self._decode_logits(quantised.reshape(len(x), -1), labels).view_as(x)
        recon = reconstruction_loss(logits, x, self.config.recon_loss)
        loss = recon + self.config.commitment * commitment
        return AEOutput(logits, quantised.reshape(len(x), -1), loss,
                        {"recon": recon, "commitment": commitment})

    @torch.no_grad()
    def extra_metrics(self, test, codes: Tensor, classifier=None) -> dict:
        """Codebook use on the test split: perplexity (the effective number of entries) and the share used."""
        counts = torch.zeros(self.config.codebook_size)
        for i in range(0, len(test), 1000):
            counts += torch.bincount(self.code_indices(test.images[i: i + 1000]).flatten(),
                                     minlength=self.config.codebook_size).float()
        p = counts / counts.sum()
        entropy = -(p[p > 0] * p[p > 0].log()).sum()
        return {"codebook_perplexity": float(entropy.exp()), "codebook_usage": float((counts > 0).float().mean())}
