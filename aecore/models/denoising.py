"""A convolutional autoencoder trained to map corrupted digits back to the clean ones."""

from dataclasses import dataclass

from aecore.config import param
from aecore.metric_info import Metric
from aecore.models.conv import ConvAE
from aecore.noise import NOISE_KINDS, corrupt


@dataclass
class DenoisingConfig:
    latent_dim: int = param(32, "Size of the code", min=2, max=512)
    channels: int = param(32, "Channels of the first convolution", min=4, max=128)
    noise: str = param("gaussian", "Corruption applied to the input during training", choices=NOISE_KINDS)
    noise_level: float = param(0.5, "Noise std (gaussian) or share of pixels hit", min=0.0, max=1.0)
    recon_loss: str = param("bce", "Reconstruction loss", choices=("bce", "mse"))


class DenoisingAE(ConvAE):
    config_class = DenoisingConfig
    description = "Convolutional denoising autoencoder: corrupted digit in, clean digit out"
    denoises = True
    metric_info = (Metric("denoise_mse", "denoise MSE", ".5f", "lower",
                          "MSE to the clean digit when fed corrupted ones"),)
    # The shipped checkpoint's recipe: the same code size as `dense`, so the two compare like for like on
    # corrupted digits.
    recipe = ({"latent_dim": 64}, {"epochs": 30, "batch_size": 128, "lr": 3e-3})
    # bench/bench_quick.py; bf16 where the processor has it (about 1.5x faster convolutions on AVX512-BF16).
    # lr 1.1e-2 did a little better than 8e-3 at equal epochs run (1.107x at 6.2 against 1.116x at 5.9).
    quick = ({"latent_dim": 64}, {"epochs": 7, "batch_size": 128, "lr": 1.1e-2, "precision": "auto"})

    def corrupt(self, x):
        return corrupt(x, self.config.noise, self.config.noise_level)

    def extra_metrics(self, test, codes, classifier=None):
        from aecore.metrics import denoise_mse

        return {"denoise_mse": denoise_mse(self, test, self.config.noise, self.config.noise_level)}
