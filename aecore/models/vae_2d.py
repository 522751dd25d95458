"""A VAE whose latent space is a plane: its map needs no projection, and every point of it decodes."""

from dataclasses import dataclass

from aecore.config import param
from aecore.models.vae import VAE, VAEConfig


@dataclass
class VAE2DConfig(VAEConfig):
    """The VAE's settings; only the default code size differs (a redefined field keeps its place)."""

    latent_dim: int = param(2, "Size of the latent space (2: the map is the latent plane itself)", min=1, max=256)


class VAE2D(VAE):
    config_class = VAE2DConfig
    description = "VAE with a 2-D latent: its map is its latent space, and any point on it decodes to a digit"
    recipe = ({}, {"epochs": 20, "batch_size": 128, "lr": 2e-3})  # the shipped checkpoint's (aecore pretrain)
    quick = ({}, {"epochs": 10, "batch_size": 128, "lr": 3e-3})  # bench/bench_quick.py
