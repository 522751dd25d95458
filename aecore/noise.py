"""Corruptions applied to whole batch tensors (never per sample), for training and for the demos."""

from __future__ import annotations

import torch
from torch import Tensor

from aecore.errors import InputError

NOISE_KINDS = ("gaussian", "salt_pepper", "masking")


def corrupt(x: Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> Tensor:
    """Return a corrupted copy of ``x`` (values in [0, 1]).

    gaussian: add N(0, level^2) noise; salt_pepper: set a ``level`` share of pixels to 0 or 1;
    masking: set a ``level`` share of pixels to 0.
    """
    if kind not in NOISE_KINDS:
        raise InputError(f"unknown noise kind {kind!r}: use one of {', '.join(NOISE_KINDS)}")
    if level <= 0:
        return x.clone()

    def rand(fn):
        return fn(x.shape, generator=generator, device=x.device, dtype=x.dtype)

    if kind == "gaussian":
        return (x + level * rand(torch.randn)).clamp(0, 1)
    hit = rand(torch.rand) < level
    if kind == "masking":
        return x.masked_fill(hit, 0.0)
    salt = rand(torch.rand) < 0.5
    return torch.where(hit, salt.to(x.dtype), x)
