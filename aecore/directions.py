"""Directions with meaning in a latent space: the step from one group of digits' mean code to another's.

Groups are two labels (4 → 9) or the two ends of a property measured on the images themselves: ink
(thin → bold) or slant (upright → slanted). Moving any code along the direction and decoding shows what
the model learned that difference to be; projecting every code on it gives a map axis with meaning (like
the Embedding Projector's custom projection).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

PROPERTIES = {"ink": ("thin", "bold"), "slant": ("leaning left", "leaning right")}


def ink(images: Tensor) -> Tensor:
    """Total ink of each image (N, 1, 28, 28): the sum of its pixel values; bold strokes have more."""
    return images.flatten(1).sum(1)


def slant(images: Tensor) -> Tensor:
    """Horizontal shear of each image from its second moments (mu11 / mu02), positive leaning right, as used
    to deskew MNIST. Rows grow downwards, so the sign is flipped to make a top-right lean positive."""
    x = images[:, 0]
    h, w = x.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype), indexing="ij")
    mass = x.sum((1, 2)).clamp_min(1e-6)
    cy, cx = (x * ys).sum((1, 2)) / mass, (x * xs).sum((1, 2)) / mass
    dy, dx = ys - cy[:, None, None], xs - cx[:, None, None]
    mu11, mu02 = (x * dx * dy).sum((1, 2)), (x * dy * dy).sum((1, 2)).clamp_min(1e-6)
    return -mu11 / mu02


def property_groups(values: Tensor, share: float = 0.25) -> tuple[Tensor, Tensor]:
    """Indices of the lowest and the highest ``share`` of ``values``: the two ends of a property."""
    order = values.argsort()
    k = max(1, int(len(values) * share))
    return order[:k], order[-k:]


def label_groups(labels: Tensor, a: int, b: int) -> tuple[Tensor, Tensor]:
    if a == b:
        raise ValueError("pick two different digits")
    return (labels == a).nonzero().flatten(), (labels == b).nonzero().flatten()


def direction(codes: Tensor, group_a: Tensor, group_b: Tensor) -> Tensor:
    """Mean code of group b minus mean code of group a."""
    if len(group_a) == 0 or len(group_b) == 0:
        raise ValueError("each group needs at least one digit")
    return codes[group_b].mean(0) - codes[group_a].mean(0)


@torch.no_grad()
def walk(model, z: Tensor, step: Tensor, amounts, label: int | None = None) -> Tensor:
    """Decode ``z + t * step`` for each t in ``amounts`` (t = 1 is the full way from group a to group b)."""
    t = torch.as_tensor(np.asarray(amounts, dtype=np.float32))
    codes = z.reshape(1, -1) + t[:, None] * step.reshape(1, -1)
    model.eval()
    return model.decode(codes, model.labels_for(label, len(codes)))


def axis_map(codes: Tensor, step: Tensor) -> np.ndarray:
    """A 2-D map with the direction as its x axis (each code's position along it, in units of the step, 0 at
    the mean code) and the main remaining variation (first principal component of what is left) as y."""
    centred = codes - codes.mean(0)
    unit = step / step.norm().clamp_min(1e-12)
    along = centred @ unit
    rest = centred - along[:, None] * unit
    v = principal_axes(rest, q=min(3, rest.shape[1]), niter=4)
    return torch.stack([along / step.norm().clamp_min(1e-12), rest @ v[:, 0]], 1).numpy().astype(np.float32)


def principal_axes(a: Tensor, q: int, niter: int = 2, seed: int = 0) -> Tensor:
    """``torch.pca_lowrank(a, q, center=False, niter=niter)``'s V (D, q), with its random start drawn from a
    generator of its own instead of torch's global RNG (shared by every thread of a server): the same map every
    time, and the same numbers as pca_lowrank after ``torch.manual_seed(seed)``. Halko et al.'s randomized
    range finder and an SVD of the small projected matrix, step by step as torch.lowrank does them."""
    from aecore.seeding import generator

    tall = a if a.shape[0] >= a.shape[1] else a.mH
    dtype = tall.dtype if tall.is_floating_point() else torch.float32
    r = torch.randn(tall.shape[1], q, dtype=dtype, device=tall.device, generator=generator(seed, tall.device))
    basis = torch.linalg.qr(tall @ r).Q
    for _ in range(niter):
        basis = torch.linalg.qr(tall.mH @ basis).Q
        basis = torch.linalg.qr(tall @ basis).Q
    u, _, vh = torch.linalg.svd(basis.mH @ tall, full_matrices=False)
    return vh.mH if tall is a else basis @ u
