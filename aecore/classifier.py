"""A small reference CNN that judges digits: drawn inputs, reconstructions and generated samples."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from safetensors.torch import save as st_save
from torch import nn

from aecore import storage
from aecore.data import ImageData, batches
from aecore.seeding import generator, seed_all

CLASSIFIER_PATH = storage.asset("classifier.safetensors")


class DigitClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 14x14
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 7x7
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 49, 128), nn.ReLU(), nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.net(x)

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        self.eval()
        return torch.cat([F.softmax(self(x[i: i + batch_size]), 1) for i in range(0, len(x), batch_size)])


def augment(x: torch.Tensor, gen: torch.Generator, clean: float = 0.3, coarse: float = 0.25) -> torch.Tensor:
    """Other writers than MNIST's, made on the fly from a batch: each digit gets its own rotation (up to
    15 degrees), slant, size, aspect and shift, a gentle elastic wobble, thicker (up to two pixels) or thinner
    strokes, and a ``coarse`` share is seen at a low resolution (7-14 pixels a side, as a small scan or an
    enlarged thumbnail is), then enlarged again. Drawings and photos vary in exactly these ways after
    preprocessing; a ``clean`` share of the batch stays as it is, so the MNIST test accuracy does not pay."""
    n = len(x)

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=gen)

    angle, shear = torch.deg2rad(uniform(-15, 15)), uniform(-0.35, 0.35)
    size, aspect = uniform(0.85, 1.1), uniform(0.8, 1.2)
    cos, sin = angle.cos(), angle.sin()
    sx, sy = size * aspect, size / aspect
    # affine_grid maps output to input coordinates: this is the inverse warp, just as random.
    theta = torch.stack([torch.stack([cos * sx, -sin * sy + shear, uniform(-0.12, 0.12)], 1),
                         torch.stack([sin * sx, cos * sy, uniform(-0.12, 0.12)], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    wobble = torch.randn(n, 2, 4, 4, generator=gen) * 0.04  # coarse random field: smooth elastic distortion
    grid = grid + F.interpolate(wobble, size=x.shape[-2:], mode="bicubic", align_corners=False).permute(0, 2, 3, 1)
    out = F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)
    # Stroke width: blend towards a dilation (max pool) or, more gently, an erosion (min pool).
    width = uniform(-1, 2).view(n, 1, 1, 1)
    thick, thin = F.max_pool2d(out, 3, 1, 1), -F.max_pool2d(-out, 3, 1, 1)
    thicker = F.max_pool2d(thick, 3, 1, 1)
    out = torch.where(width > 1, thick + (width - 1) * (thicker - thick),
                      torch.where(width > 0, out + width * (thick - out), out - 0.5 * width * (thin - out)))
    side = int(torch.randint(7, 15, (1,), generator=gen))  # one resolution per batch: one interpolate call
    low = F.interpolate(F.interpolate(out, size=side, mode="area"), size=x.shape[-2:], mode="bicubic",
                        align_corners=False)
    out = torch.where((torch.rand(n, generator=gen) < coarse).view(n, 1, 1, 1), low, out)
    keep = (torch.rand(n, generator=gen) < clean).view(n, 1, 1, 1)
    return torch.where(keep, x, out.clamp(0, 1))


def train_classifier(train: ImageData, test: ImageData, epochs: int = 8, seed: int = 0, log=print,
                     start: DigitClassifier | None = None, lr: float = 2e-3) -> tuple:
    """Train from scratch, or go on from ``start`` (fine-tuning: a few epochs at a lower ``lr``)."""
    seed_all(seed)
    gen = generator(seed)
    model = start or DigitClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(train) + 127) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        for idx in batches(len(train), 128, shuffle=True, generator=gen):
            loss = F.cross_entropy(model(augment(train.images[idx], gen)), train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = accuracy(model, test)
        log(f"classifier epoch {epoch + 1}/{epochs}: test accuracy {acc:.4f}")
    return model, {"test_accuracy": acc, "epochs": epochs, "train_seconds": time.perf_counter() - t0,
                   "train_size": len(train),
                   "augmentation": "affine, elastic, stroke width, resolution (classifier.augment)"}


def accuracy(model: DigitClassifier, data: ImageData) -> float:
    return float((model.probabilities(data.images).argmax(1) == data.labels).float().mean())


def save_classifier(model: DigitClassifier, info: dict, path: Path) -> Path:
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    return storage.write_atomic(path, st_save(tensors, metadata={"aecore_classifier": json.dumps(info)}))


def load_classifier(path: Path = CLASSIFIER_PATH) -> DigitClassifier:
    model = DigitClassifier()
    model.load_state_dict(load_file(str(path)))
    return model.eval()
