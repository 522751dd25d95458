"""Generation from the VAE family: prior samples, interpolation, latent traversals, manifold grids,
and (cvae) every digit in several styles or one digit restyled as each of the others."""

from __future__ import annotations

import torch
from torch import Tensor

from aecore.data import ImageData
from aecore.errors import InputError
from aecore.models import Autoencoder, VAEBase
from aecore.models.base import N_CLASSES
from aecore.models.vae import kl_to_standard_normal
from aecore.seeding import generator


@torch.no_grad()
def prior_samples(model: VAEBase, n: int = 32, temperature: float = 1.0, seed: int = 0,
                  label: int | None = None) -> Tensor:
    """``n`` decoded draws from N(0, temperature^2 I); the same seed gives the same digits."""
    gen = generator(seed)
    return model.sample(n, label=label, temperature=temperature, generator=gen)


def slerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation (falls back to linear for nearly parallel codes). t: (S,) -> (S, D)."""
    a, b = z0.flatten(), z1.flatten()
    na, nb = a.norm(), b.norm()
    if na < 1e-8 or nb < 1e-8:
        return lerp(z0, z1, t)
    cos = torch.clamp((a / na) @ (b / nb), -1.0, 1.0)
    omega = torch.acos(cos)
    if omega.abs() < 1e-4:
        return lerp(z0, z1, t)
    so = torch.sin(omega)
    t = t[:, None]
    return torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b


def lerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    return (1 - t[:, None]) * z0.flatten() + t[:, None] * z1.flatten()


def interpolate(z0: Tensor, z1: Tensor, steps: int = 10, mode: str = "linear") -> Tensor:
    """Codes on the path from z0 to z1 (both ends included): (steps, D)."""
    if mode not in ("linear", "slerp"):
        raise InputError("mode must be 'linear' or 'slerp'")
    t = torch.linspace(0, 1, max(2, steps), dtype=z0.dtype)
    return (slerp if mode == "slerp" else lerp)(z0, z1, t)


@torch.no_grad()
def interpolate_images(model: Autoencoder, x0: Tensor, x1: Tensor, steps: int = 10, mode: str = "linear",
                       label0: int | None = None, label1: int | None = None) -> Tensor:
    """Decode the path between two images' codes. cvae: the label switches half-way."""
    model.eval()
    l0, l1 = model.labels_for(label0, 1), model.labels_for(label1 if label1 is not None else label0, 1)
    z0, z1 = model.encode(x0.view(1, 1, 28, 28), l0), model.encode(x1.view(1, 1, 28, 28), l1)
    path = interpolate(z0[0], z1[0], steps, mode)
    labels = None
    if model.conditional:
        half = torch.linspace(0, 1, len(path)) < 0.5
        labels = torch.where(half, l0[0], l1[0])
    return model.decode(path, labels)


@torch.no_grad()
def kl_per_dim(model: VAEBase, data: ImageData, batch_size: int = 1000) -> Tensor:
    """Mean KL(q(z|x) || p(z)) of each latent dimension over ``data``, in nats: the dims the model uses."""
    model.eval()
    total = torch.zeros(model.latent_dim)
    for i in range(0, len(data), batch_size):
        x = data.images[i: i + batch_size]
        y = data.labels[i: i + batch_size]
        mu, logvar = model.encode_distribution(x, y)
        total += kl_to_standard_normal(mu, logvar).sum(0)
    return total / max(1, len(data))


@torch.no_grad()
def traversal(model: VAEBase, kl: Tensor, n_dims: int = 8, steps: int = 9, span: float = 3.0,
              base: Tensor | None = None, label: int | None = None) -> tuple[Tensor, list[int]]:
    """Vary each of the ``n_dims`` highest-KL dims from -span to +span around ``base`` (default 0).

    Returns images (n_dims * steps, 1, 28, 28), row by row, and the dims in rank order.
    """
    model.eval()
    dims = kl.argsort(descending=True)[: min(n_dims, model.latent_dim)].tolist()
    base = torch.zeros(model.latent_dim) if base is None else base.flatten()
    values = torch.linspace(-span, span, steps)
    z = base.repeat(len(dims) * steps, 1)
    for r, d in enumerate(dims):
        z[r * steps: (r + 1) * steps, d] = base[d] + values
    return model.decode(z, model.labels_for(label, len(z))), dims


def gaussian_grid(n: int, lo: float = 0.05, hi: float = 0.95) -> Tensor:
    """``n`` values spaced evenly in probability under N(0, 1) (inverse CDF of linspace(lo, hi))."""
    return torch.special.ndtri(torch.linspace(lo, hi, n, dtype=torch.float64)).float()


@torch.no_grad()
def manifold_grid(model: VAEBase, dim_x: int = 0, dim_y: int = 1, n: int = 12, base: Tensor | None = None,
                  label: int | None = None) -> Tensor:
    """Decode an n x n grid over two latent dims (others fixed at ``base``, default 0): (n*n, 1, 28, 28).

    Rows go from high to low ``dim_y`` (top is high, as on a plot), columns from low to high ``dim_x``.
    """
    if not (0 <= dim_x < model.latent_dim and 0 <= dim_y < model.latent_dim) or dim_x == dim_y:
        raise InputError(f"pick two different dims between 0 and {model.latent_dim - 1}")
    model.eval()
    g = gaussian_grid(n)
    z = (torch.zeros(model.latent_dim) if base is None else base.flatten().clone()).repeat(n * n, 1)
    ys, xs = torch.meshgrid(g.flip(0), g, indexing="ij")
    z[:, dim_x] = xs.flatten()
    z[:, dim_y] = ys.flatten()
    return model.decode(z, model.labels_for(label, len(z)))


@torch.no_grad()
def digit_styles(model: VAEBase, n_styles: int = 8, seed: int = 0, temperature: float = 1.0) -> Tensor:
    """cvae: one row per digit 0-9, one column per style (the same code down each column)."""
    if not model.conditional:
        raise InputError("digit styles need a conditional model (cvae)")
    model.eval()
    gen = generator(seed)
    styles = torch.randn(n_styles, model.latent_dim, generator=gen) * temperature
    z = styles.repeat(N_CLASSES, 1)
    labels = torch.arange(N_CLASSES).repeat_interleave(n_styles)
    return model.decode(z, labels)


@torch.no_grad()
def restyle(model: VAEBase, x: Tensor, label: int) -> Tensor:
    """cvae: encode one digit (with its label) and decode its style as each digit 0-9: (10, 1, 28, 28)."""
    if not model.conditional:
        raise InputError("restyling needs a conditional model (cvae)")
    model.eval()
    z = model.encode(x.view(1, 1, 28, 28), torch.tensor([int(label)]))
    return model.decode(z.repeat(N_CLASSES, 1), torch.arange(N_CLASSES))


@torch.no_grad()
def decode_mean(model: Autoencoder, codes: Tensor, labels: Tensor | None = None) -> Tensor:
    """Decode the mean of several codes; conditional models use the most common label. (1, 1, 28, 28)."""
    model.eval()
    mean = codes.mean(0, keepdim=True)
    lab = None
    if model.conditional:
        lab = torch.mode(labels).values.view(1) if labels is not None and len(labels) else torch.zeros(1).long()
    return model.decode(mean, lab)


@torch.no_grad()
def decode_plane(model: Autoencoder, x_range: tuple[float, float], y_range: tuple[float, float], n: int = 24,
                 label: int | None = None) -> Tensor:
    """A 2-D latent space decoded on an n x n grid spanning the ranges: (n*n, 1, 28, 28), rows from high y
    to low y (top is high, as on a plot), so the tiles line up with the map they lie under."""
    if model.latent_dim != 2:
        raise InputError("the latent plane needs a model with a 2-D code")
    model.eval()
    half_x, half_y = (x_range[1] - x_range[0]) / (2 * n), (y_range[1] - y_range[0]) / (2 * n)
    xs = torch.linspace(x_range[0] + half_x, x_range[1] - half_x, n)  # tile centres
    ys = torch.linspace(y_range[1] - half_y, y_range[0] + half_y, n)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    z = torch.stack([gx.flatten(), gy.flatten()], 1)
    return model.decode(z, model.labels_for(label, len(z)))
