"""Convolutional encoder (two stride-2 convolutions) and transposed-convolution decoder."""

from dataclasses import dataclass

from torch import nn

from aecore.config import param
from aecore.models.base import Autoencoder


@dataclass
class ConvConfig:
    latent_dim: int = param(32, "Size of the code", min=2, max=512)
    channels: int = param(32, "Channels of the first convolution (the second has twice as many)", min=4, max=128)
    recon_loss: str = param("bce", "Reconstruction loss", choices=("bce", "mse"))


def conv_encoder(channels: int, out_features: int) -> nn.Sequential:
    c = channels
    return nn.Sequential(
        nn.Conv2d(1, c, 3, stride=2, padding=1), nn.ReLU(),  # 14x14
        nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.ReLU(),  # 7x7
        nn.Flatten(), nn.Linear(2 * c * 49, out_features),
    )


def conv_decoder(channels: int, in_features: int) -> nn.Sequential:
    c = channels
    return nn.Sequential(
        nn.Linear(in_features, 2 * c * 49), nn.ReLU(), nn.Unflatten(1, (2 * c, 7, 7)),
        nn.ConvTranspose2d(2 * c, c, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),  # 14x14
        nn.ConvTranspose2d(c, 1, 3, stride=2, padding=1, output_padding=1),  # 28x28 logits
    )


class ConvAE(Autoencoder):
    config_class = ConvConfig
    description = "Convolutional autoencoder: strided convolutions in, transposed convolutions out"
    recipe = ({}, {"epochs": 20, "batch_size": 128, "lr": 3e-3})  # the shipped checkpoint's (aecore pretrain)
    # Quick preset: an orthogonal start, which takes a higher lr, and batches of 64. Tuning: docs/tuning.md.
    quick = ({}, {"epochs": 7, "batch_size": 64, "lr": 1.5e-2, "precision": "auto", "orthogonal_init": True})

    def __init__(self, config=None):
        super().__init__(config)
        self.encoder = conv_encoder(self.config.channels, self.latent_dim)
        self.decoder = conv_decoder(self.config.channels, self.latent_dim)

    def _encode(self, x, labels):
        return self.encoder(x)

    def _decode_logits(self, z, labels):
        return self.decoder(z)
