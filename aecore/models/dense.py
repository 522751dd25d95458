"""The classic single-layer autoencoder: Flatten -> Linear(784, 64) + ReLU -> Linear(64, 784) + Sigmoid."""

from dataclasses import dataclass

import torch
from torch import nn

from aecore.config import param
from aecore.models.base import IMAGE_SHAPE, N_PIXELS, Autoencoder


@dataclass
class DenseConfig:
    latent_dim: int = param(64, "Size of the code (the classic uses 64)", min=2, max=512)
    recon_loss: str = param("bce", "Reconstruction loss", choices=("bce", "mse"))
    contractive: float = param(0.0, "Weight of the contractive penalty (encoder Jacobian norm)", min=0.0, max=1.0)
    orthogonal: float = param(0.0, "Weight of the penalty keeping encoder rows orthogonal, of equal length",
                              min=0.0, max=10.0)


class DenseAE(Autoencoder):
    config_class = DenseConfig
    description = "Classic 784-64-784 autoencoder: one ReLU layer in, one sigmoid layer out"
    # The shipped checkpoint's recipe (aecore pretrain). Contractive and orthogonality penalties trade a
    # little MSE for codes whose neighbours share a label (kNN); longer runs lower MSE but also kNN.
    recipe = ({"contractive": 1e-4, "orthogonal": 1.0}, {"epochs": 25, "batch_size": 64, "lr": 5e-3})
    # Small batches give many cheap steps, and a mean-image start saves the first of them (the quick
    # default reaches the card's MSE target; bench/bench_aecore.py measures how fast).
    train_defaults = {"epochs": 4, "batch_size": 64, "lr": 6e-3, "init_output_bias": True}
    quick = ({}, {})  # the defaults already take seconds (bench/bench_quick.py)

    def __init__(self, config=None):
        super().__init__(config)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(N_PIXELS, self.latent_dim), nn.ReLU())
        # Sigmoid is applied by Autoencoder.decode, so the layer stays fused with BCE-with-logits.
        self.decoder = nn.Sequential(nn.Linear(self.latent_dim, N_PIXELS), nn.Unflatten(1, IMAGE_SHAPE))

    def output_bias(self):
        return self.decoder[0].bias

    def _encode(self, x, labels):
        return self.encoder(x)

    def _decode_logits(self, z, labels):
        return self.decoder(z)

    def penalties(self, z):
        """Optional penalties that shape the code space, which is what kNN on the codes measures.

        Contractive (Rifai et al., 2011): the squared Frobenius norm of dz/dx. For a ReLU layer it
        is exact and cheap: sum over active units of their weight row's squared norm. It makes codes
        of similar digits closer.
        Orthogonal: the distance of the encoder's Gram matrix, scaled to unit mean diagonal, from the
        identity. Rows of equal length at right angles make the pre-activations a scaled orthogonal
        projection, as in PCA, so no few large units dominate Euclidean distances between codes.
        """
        total, terms = z.new_zeros(()), {}
        weight = self.encoder[1].weight
        if self.config.contractive > 0:
            raw = ((z > 0).float() * weight.pow(2).sum(1)).sum(1).mean()
            total, terms["contractive"] = total + self.config.contractive * raw, raw
        if self.config.orthogonal > 0:
            gram = weight @ weight.T
            gram = gram / gram.diagonal().mean()
            eye = torch.eye(len(gram), device=gram.device)
            raw = (gram - eye).pow(2).sum() / len(gram)
            total, terms["orthogonal"] = total + self.config.orthogonal * raw, raw
        return total, terms
