"""Side-by-side comparisons of several models: one metrics table, the same digits, a denoising demo."""

from __future__ import annotations

import torch

from aecore.metrics import per_image_mse, psnr, reconstruct_all
from aecore.noise import corrupt

# (metric key, column title); the same columns the model card reports
COLUMNS = [("test_mse", "MSE"), ("psnr", "PSNR dB"), ("ssim", "SSIM"), ("knn5_acc", "kNN(5) acc"),
           ("active_units", "active units"), ("neg_elbo", "-ELBO nats"), ("denoise_mse", "denoise MSE"),
           ("samples_recognised", "samples recognised"), ("params", "params"), ("train_seconds", "train s")]


def metrics_rows(entries, extra: dict[str, dict] | None = None) -> list[dict]:
    """One row per catalog entry: name, variant, source, latent size and every known metric."""
    rows = []
    for e in entries:
        m = {**e.metrics, **((extra or {}).get(e.name) or {})}
        row = {"model": e.name, "variant": e.variant, "source": e.source, "latent": e.latent_dim,
               "dataset": e.dataset}
        for key, title in COLUMNS:
            v = m.get(key)
            row[title] = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        rows.append(row)
    return rows


def sample_indices(n: int, total: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randperm(total, generator=gen)[: min(n, total)].sort().values


@torch.no_grad()
def reconstructions(models: dict, images: torch.Tensor, labels: torch.Tensor) -> dict[str, dict]:
    """Each model's reconstructions of the same images, with per-image MSE."""
    out = {}
    for name, model in models.items():
        rec = reconstruct_all(model, images, labels)
        out[name] = {"images": rec, "mse": per_image_mse(rec, images)}
    return out


@torch.no_grad()
def denoise_demo(models: dict, images: torch.Tensor, labels: torch.Tensor, kind: str, level: float,
                 seed: int = 0) -> dict:
    """Corrupt ``images`` once and feed the same noisy batch to every model.

    Returns {"noisy": tensor, "noisy_psnr": float, "models": {name: {"images", "psnr", "mse"}}},
    PSNR measured against the clean images.
    """
    noisy = corrupt(images, kind, level, torch.Generator().manual_seed(int(seed)))
    result = {"noisy": noisy, "noisy_psnr": float(psnr(noisy, images).mean()), "models": {}}
    for name, model in models.items():
        rec = reconstruct_all(model, noisy, labels)
        result["models"][name] = {"images": rec, "psnr": float(psnr(rec, images).mean()),
                                  "mse": float(per_image_mse(rec, images).mean())}
    return result
