"""Digits as other writers would make them: the variation between MNIST and drawings, photos and small pictures,
made on the fly from a batch (for the reference classifier, and for any model trained with ``augment``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def other_writers(x: torch.Tensor, gen: torch.Generator, clean: float = 0.3, coarse: float = 0.25) -> torch.Tensor:
    """Other writers than MNIST's, made on the fly from a batch: each digit gets its own rotation (up to
    15 degrees), slant, size, aspect and shift, a gentle elastic wobble, thicker (up to two pixels) or thinner
    strokes, and a ``coarse`` share is seen at a low resolution (7-14 pixels a side, as a small scan or an
    enlarged thumbnail is), then enlarged again. Drawings and photos vary in exactly these ways after
    preprocessing; a ``clean`` share of the batch stays as it is, so the MNIST test accuracy does not pay."""
    n = len(x)

    def rand(*shape: int) -> torch.Tensor:  # drawn from ``gen`` wherever it lives, used where the batch is
        return torch.rand(*shape, generator=gen, device=gen.device).to(x.device)

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * rand(n)

    angle, shear = torch.deg2rad(uniform(-15, 15)), uniform(-0.35, 0.35)
    size, aspect = uniform(0.85, 1.1), uniform(0.8, 1.2)
    cos, sin = angle.cos(), angle.sin()
    sx, sy = size * aspect, size / aspect
    # affine_grid maps output to input coordinates: this is the inverse warp, just as random.
    theta = torch.stack([torch.stack([cos * sx, -sin * sy + shear, uniform(-0.12, 0.12)], 1),
                         torch.stack([sin * sx, cos * sy, uniform(-0.12, 0.12)], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # A coarse random field: a smooth elastic distortion.
    wobble = torch.randn(n, 2, 4, 4, generator=gen, device=gen.device).to(x.device) * 0.04
    grid = grid + F.interpolate(wobble, size=x.shape[-2:], mode="bicubic", align_corners=False).permute(0, 2, 3, 1)
    out = F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)
    # Stroke width: blend towards a dilation (max pool) or, more gently, an erosion (min pool).
    width = uniform(-1, 2).view(n, 1, 1, 1)
    thick, thin = F.max_pool2d(out, 3, 1, 1), -F.max_pool2d(-out, 3, 1, 1)
    thicker = F.max_pool2d(thick, 3, 1, 1)
    out = torch.where(width > 1, thick + (width - 1) * (thicker - thick),
                      torch.where(width > 0, out + width * (thick - out), out - 0.5 * width * (thin - out)))
    side = int(torch.randint(7, 15, (1,), generator=gen, device=gen.device))  # one resolution a batch: one call
    low = F.interpolate(F.interpolate(out, size=side, mode="area"), size=x.shape[-2:], mode="bicubic",
                        align_corners=False)
    out = torch.where((rand(n) < coarse).view(n, 1, 1, 1), low, out)
    keep = (rand(n) < clean).view(n, 1, 1, 1)
    return torch.where(keep, x, out.clamp(0, 1))
