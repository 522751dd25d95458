"""The variants by name: a new variant is one module plus one line here.

Each line names the variant's class as ``"module:Class"``; a class is imported only when it is asked for
(``aecore.models.VARIANTS``), so listing the variants never imports torch."""

CLASSES = {
    "dense": "aecore.models.dense:DenseAE",
    "deep": "aecore.models.deep:DeepAE",
    "conv": "aecore.models.conv:ConvAE",
    "denoising": "aecore.models.denoising:DenoisingAE",
    "sparse": "aecore.models.sparse:SparseAE",
    "vae": "aecore.models.vae:VAE",
    "conv_vae": "aecore.models.conv_vae:ConvVAE",
    "cvae": "aecore.models.cvae:CVAE",
    "vq_vae": "aecore.models.vq_vae:VQVAE",
    "vae_2d": "aecore.models.vae_2d:VAE2D",
}


def name_of(cls: type) -> str:
    """A registered class's name, found by its import path (so no other variant is imported)."""
    where = f"{cls.__module__}:{cls.__qualname__}"
    return next(name for name, path in CLASSES.items() if path == where)
