"""One way to seed: a private generator for a repeatable draw, or every global RNG for a whole run."""

from __future__ import annotations

import random

import numpy as np
import torch


def generator(seed: int) -> torch.Generator:
    """A CPU generator of its own, so a seeded draw never disturbs (or depends on) the global state."""
    return torch.Generator().manual_seed(int(seed))


def seed_all(seed: int) -> None:
    """Seed Python's, numpy's and torch's global RNGs (training, where layers draw from the global one)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
