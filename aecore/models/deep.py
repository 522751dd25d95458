"""A deeper MLP autoencoder: 784-512-256-z and back."""

from dataclasses import dataclass

from torch import nn

from aecore.config import param
from aecore.models.base import N_PIXELS, Autoencoder, mlp


@dataclass
class DeepConfig:
    latent_dim: int = param(32, "Size of the code", min=2, max=512)
    hidden1: int = param(512, "Width of the first hidden layer", min=16, max=2048)
    hidden2: int = param(256, "Width of the second hidden layer", min=16, max=2048)
    recon_loss: str = param("bce", "Reconstruction loss", choices=("bce", "mse"))


class DeepAE(Autoencoder):
    config_class = DeepConfig
    description = "Deep MLP autoencoder (784-512-256-32 by default), linear code"
    recipe = ({}, {"epochs": 40, "batch_size": 64, "lr": 2e-3})  # the shipped checkpoint's (aecore pretrain)
    # Quick preset: an orthogonal start and the output bias at the mean digit. Tuning: docs/tuning.md.
    quick = ({}, {"epochs": 20, "batch_size": 128, "lr": 3e-3, "precision": "auto", "orthogonal_init": True,
                  "init_output_bias": True})

    def __init__(self, config=None):
        super().__init__(config)
        c = self.config
        self.encoder = nn.Sequential(nn.Flatten(), mlp([N_PIXELS, c.hidden1, c.hidden2, c.latent_dim]))
        self.decoder = mlp([c.latent_dim, c.hidden2, c.hidden1, N_PIXELS])

    def output_bias(self):
        return self.decoder[-1].bias

    def _encode(self, x, labels):
        return self.encoder(x)

    def _decode_logits(self, z, labels):
        return self.decoder(z)
