"""The VAE with the convolutional encoder and decoder of the ``conv`` variant."""

from dataclasses import dataclass

from aecore.config import param
from aecore.models.conv import conv_decoder, conv_encoder
from aecore.models.vae import IWAE_K_HELP, MAX_IWAE_K, VAEBase


@dataclass
class ConvVAEConfig:
    latent_dim: int = param(16, "Size of the latent space", min=1, max=256)
    channels: int = param(32, "Channels of the first convolution", min=4, max=128)
    beta: float = param(1.0, "Weight of the KL term (1 = the true ELBO)", min=0.0, max=100.0)
    iwae_k: int = param(1, IWAE_K_HELP, min=1, max=MAX_IWAE_K)


class ConvVAE(VAEBase):
    config_class = ConvVAEConfig
    description = "Convolutional VAE: strided convolutions in, transposed convolutions out"
    # The shipped checkpoint's recipe (aecore pretrain), with other writers' digits as for VAE; a smaller share and
    # more epochs keep its MNIST -ELBO under 100 nats (docs/tuning.md).
    recipe = ({}, {"epochs": 40, "batch_size": 128, "lr": 3e-3, "augment": 0.3})
    quick = ({}, {"epochs": 5, "batch_size": 128, "lr": 4e-3})  # bench/bench_quick.py

    def __init__(self, config=None):
        super().__init__(config)
        self.encoder = conv_encoder(self.config.channels, 2 * self.latent_dim)
        self.decoder = conv_decoder(self.config.channels, self.latent_dim)

    def _encode_params(self, x, labels):
        return self.encoder(x).chunk(2, dim=1)

    def _decode_logits(self, z, labels):
        return self.decoder(z)
