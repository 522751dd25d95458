"""The registry: a new variant is one module plus one line here."""

from aecore.models.base import AEOutput, Autoencoder
from aecore.models.conv import ConvAE
from aecore.models.conv_vae import ConvVAE
from aecore.models.cvae import CVAE
from aecore.models.deep import DeepAE
from aecore.models.denoising import DenoisingAE
from aecore.models.dense import DenseAE
from aecore.models.sparse import SparseAE
from aecore.models.vae import VAE, VAEBase
from aecore.models.vq_vae import VQVAE

VARIANTS: dict[str, type[Autoencoder]] = {
    "dense": DenseAE,
    "deep": DeepAE,
    "conv": ConvAE,
    "denoising": DenoisingAE,
    "sparse": SparseAE,
    "vae": VAE,
    "conv_vae": ConvVAE,
    "cvae": CVAE,
    "vq_vae": VQVAE,
}


class UnknownVariant(KeyError):
    def __str__(self):
        return self.args[0]


def get_variant(name: str) -> type[Autoencoder]:
    try:
        return VARIANTS[name]
    except KeyError:
        raise UnknownVariant(f"unknown variant {name!r}: choose one of {', '.join(VARIANTS)}") from None


def name_of(cls: type) -> str:
    return next(name for name, c in VARIANTS.items() if c is cls)


def build(name: str, config: dict | None = None, seed: int | None = None) -> Autoencoder:
    """Instantiate a variant from a plain dict of settings (validated); ``seed`` fixes the initial weights."""
    import torch

    from aecore.config import from_dict

    cls = get_variant(name)
    cfg = from_dict(cls.config_class, config)
    if seed is None:
        return cls(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(cfg)


__all__ = ["AEOutput", "Autoencoder", "VAEBase", "VARIANTS", "build", "get_variant", "name_of", "UnknownVariant"]
