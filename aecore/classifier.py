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
from aecore.augment import other_writers
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
            loss = F.cross_entropy(model(other_writers(train.images[idx], gen)), train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = accuracy(model, test)
        log(f"classifier epoch {epoch + 1}/{epochs}: test accuracy {acc:.4f}")
    return model, {"test_accuracy": acc, "epochs": epochs, "train_seconds": time.perf_counter() - t0,
                   "train_size": len(train),
                   "augmentation": "affine, elastic, stroke width, resolution (augment.other_writers)"}


def accuracy(model: DigitClassifier, data: ImageData) -> float:
    return float((model.probabilities(data.images).argmax(1) == data.labels).float().mean())


def save_classifier(model: DigitClassifier, info: dict, path: Path) -> Path:
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    return storage.write_atomic(path, st_save(tensors, metadata={"aecore_classifier": json.dumps(info)}))


def load_classifier(path: Path = CLASSIFIER_PATH) -> DigitClassifier:
    model = DigitClassifier()
    model.load_state_dict(load_file(str(path)))
    return model.eval()
