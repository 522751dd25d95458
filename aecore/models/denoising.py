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
    noise_warmup: float = param(0.0, "Share of training over which the noise grows from none to its level: "
                                     "clean digits first, a faster start (the training loss may rise meanwhile; "
                                     "validation always sees the full noise)", min=0.0, max=1.0)


class DenoisingAE(ConvAE):
    config_class = DenoisingConfig
    description = "Convolutional denoising autoencoder: corrupted digit in, clean digit out"
    denoises = True
    metric_info = (Metric("denoise_mse", "denoise MSE", ".5f", "lower",
                          "MSE to the clean digit when fed corrupted ones"),)
    # The shipped checkpoint's recipe: the same code size as `dense`, so the two compare like for like on
    # corrupted digits.
    recipe = ({"latent_dim": 64}, {"epochs": 30, "batch_size": 128, "lr": 3e-3})
    # Quick preset: small batches (short of steps, not data), MSE (the headline), noise growing over the first
    # 70% of the run. How it was tuned: docs/tuning.md.
    quick = ({"latent_dim": 64, "recon_loss": "mse", "noise_warmup": 0.7},
             {"epochs": 7, "batch_size": 32, "lr": 5e-3, "precision": "auto"})

    noise_scale = 1.0  # of noise_level; below 1 only while a noise warm-up runs

    def set_progress(self, done):
        warmup = self.config.noise_warmup
        self.noise_scale = min(1.0, done / warmup) if warmup else 1.0

    def objective_warmup(self):
        warmup = self.config.noise_warmup
        return (warmup, "noise warm-up: the noise grows, so the training loss may rise") if warmup else None

    def corrupt(self, x):
        # Evaluation (validation loss, denoise_mse) always sees the full noise, so its figures compare over a run.
        scale = self.noise_scale if self.training else 1.0
        return corrupt(x, self.config.noise, self.config.noise_level * scale, self.rng)

