"""One way to seed: a private generator for a repeatable draw, or every global RNG for a whole script.

torch's global RNG is one per process, shared by every thread: in the app's server a seeded run that drew from
it would change whenever another visitor's page drew from it or reseeded it. So everything seeded draws from a
generator of its own (:func:`generator`, :func:`init_weights`); :func:`seed_all` is for single-threaded scripts.
"""

from __future__ import annotations

import inspect
import math
import random

import numpy as np
import torch
from torch import nn


def generator(seed: int, device: torch.device | str | None = None) -> torch.Generator:
    """A generator of its own (on ``device``, the CPU by default), so a seeded draw never disturbs (or depends
    on) the global state. Seeded alike, it draws what the global RNG of that device would after manual_seed."""
    return torch.Generator(device=device or "cpu").manual_seed(int(seed))


def seed_all(seed: int) -> None:
    """Seed Python's, numpy's and torch's global RNGs: only for single-threaded scripts (pretraining)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _reset_layer(layer: nn.Module, gen: torch.Generator) -> None:
    """torch's own reset_parameters of a linear or convolution layer, drawing from ``gen``: the same draws in the
    same order (weight in a contiguous buffer, then bias)."""
    weight = torch.empty(layer.weight.shape, dtype=layer.weight.dtype)
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=gen)
    layer.weight.copy_(weight)
    if layer.bias is not None:
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(layer.bias, -bound, bound, generator=gen)


@torch.no_grad()
def init_weights(model: nn.Module, seed: int) -> nn.Module:
    """Initialise ``model`` (on the CPU) exactly as building it after ``torch.manual_seed(seed)`` does, from a
    generator of its own: layers draw in the order they were built, which is the order of ``modules()``.

    A module with a ``reset_parameters(generator=...)`` of its own (a codebook) draws through it; other modules
    with parameters must be linear or convolution layers, so no layer is silently left to the global RNG."""
    gen = generator(seed)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
            _reset_layer(module, gen)
        elif "generator" in inspect.signature(getattr(module, "reset_parameters", _no_reset)).parameters:
            module.reset_parameters(generator=gen)
        elif any(True for _ in module.parameters(recurse=False)):
            raise TypeError(f"cannot seed {type(module).__name__}: give it reset_parameters(generator=None)")
    return model


def _no_reset() -> None:
    """What a module without reset_parameters has."""
