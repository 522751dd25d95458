"""Training evolution: a map of a fixed probe set of test digits after every epoch, kept with the checkpoint.

    rec = Recorder(model, test)               # frame 0: the untrained model
    train(model, train_data, test, cfg, on_progress=rec)  # one frame per epoch
    checkpoint.save(model, path, extras=rec.tensors())
    ev = from_checkpoint(path.read_bytes())   # Evolution(frames (epochs + 1, n, 2), rows, labels) or None

Each frame is the 2-D PCA of that epoch's probe codes, rotated (or reflected) onto the previous frame by
orthogonal Procrustes, so a cluster stays where it was unless the model moves it: PCA's axes have no sign
and swap places when two variances cross, and without the alignment the map would jump between epochs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from aecore.data import ImageData, balanced_indices

# 100 digits a class: a readable map, and a frame costs under 5% of an epoch on a 5,000-image slice
PROBE_SIZE = 1000
NAMES = ("evolution.frames", "evolution.rows", "evolution.labels")  # extra tensors of a checkpoint


@dataclass
class Probe(ImageData):
    """The digits every frame maps: the same test rows for the whole run, so frames compare."""

    rows: np.ndarray  # their rows in the test split


def probe(test: ImageData, n: int = PROBE_SIZE, seed: int = 0) -> Probe:
    """A fixed, class-balanced slice of ``n`` test digits (all when the split is smaller)."""
    idx = balanced_indices(test.labels, n, seed) if n < len(test) else torch.arange(len(test))
    return Probe(test.images[idx], test.labels[idx], test.dataset, test.split, f"{test.source} (evolution probe)",
                 idx.numpy())


@dataclass
class Evolution:
    frames: np.ndarray  # (epochs + 1, n, 2) float16; frame 0 is the untrained model
    rows: np.ndarray  # (n,) test rows of the probe
    labels: np.ndarray  # (n,) their labels

    def limits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Axis ranges that hold every frame (a replay should not rescale as it goes)."""
        lo, hi = np.nanpercentile(self.frames.astype(np.float32).reshape(-1, 2), [0.5, 99.5], axis=0)
        pad = 0.05 * (hi - lo)
        return (float(lo[0] - pad[0]), float(hi[0] + pad[0])), (float(lo[1] - pad[1]), float(hi[1] + pad[1]))


def codes(model, probe: Probe) -> torch.Tensor:
    """The probe's codes on the CPU, in eval mode (the model's mode is given back after a frame taken in
    the middle of training): no dropout, no sampling, no codebook update."""
    from aecore.metrics import encode_all

    was = model.training
    try:
        return encode_all(model, probe).float()
    finally:
        model.train(was)


def pca2(z: torch.Tensor) -> np.ndarray:
    """The codes' first two principal components, scaled to unit RMS distance from the centre.

    Scale is not left to Procrustes: its best scale shrinks a frame that disagrees with the previous one,
    while unit RMS keeps the clusters the same size on screen from the first epoch to the last."""
    z = z.double()
    z = z - z.mean(0)
    if z.shape[1] < 2:
        z = torch.cat([z, z.new_zeros(len(z), 2 - z.shape[1])], 1)
    # The covariance is D x D (64 for dense, 784 for vq_vae): cheaper than an SVD of the 2,000 codes.
    _, vectors = torch.linalg.eigh(z.T @ z)
    xy = (z @ vectors[:, [-1, -2]]).numpy()
    rms = np.sqrt((xy**2).sum(1).mean())
    return xy / rms if rms > 0 else xy


def align(xy: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """``xy`` rotated or reflected (orthogonal Procrustes) to lie as close as it can to ``previous``."""
    if previous is None:
        return xy
    u, _, vt = np.linalg.svd(xy.T @ previous)
    return xy @ (u @ vt)


def frame(model, probe: Probe, previous: np.ndarray | None = None) -> np.ndarray:
    """One frame: the probe's codes mapped to 2-D and aligned to ``previous`` (float32, (n, 2))."""
    return align(pca2(codes(model, probe)), None if previous is None else previous.astype(np.float64)).astype(
        np.float32)


class Recorder:
    """Records a frame of ``model`` now (epoch 0) and after every epoch; pass it as train()'s ``on_progress``
    (``then`` is called after it with every event) or call :meth:`add` from your own hook."""

    def __init__(self, model, test: ImageData, n: int = PROBE_SIZE,
                 then: Callable | None = None):
        self.probe = probe(test, n)
        self.then = then
        self.frames: list[np.ndarray] = []  # float16, as stored
        self._last: np.ndarray | None = None  # float32: alignment does not accumulate rounding
        self.add(model)

    def add(self, model) -> np.ndarray:
        self._last = frame(model, self.probe, self._last)
        self.frames.append(self._last.astype(np.float16))
        return self.frames[-1]

    def __call__(self, p) -> None:
        if p.kind == "epoch" and p.model is not None:
            self.add(p.model)
        if self.then:
            self.then(p)

    def evolution(self) -> Evolution:
        return Evolution(np.stack(self.frames), self.probe.rows, self.probe.labels.numpy())

    def tensors(self) -> dict[str, torch.Tensor]:
        """The frames as extra checkpoint tensors (``checkpoint.save(..., extras=...)``): 4 kB per epoch."""
        ev = self.evolution()
        arrays = (ev.frames, ev.rows.astype(np.int32), ev.labels.astype(np.uint8))
        return {name: torch.from_numpy(a) for name, a in zip(NAMES, arrays, strict=True)}


def from_checkpoint(data: bytes) -> Evolution | None:
    """The frames kept in a checkpoint (None for one trained without them); CheckpointError when malformed."""
    from aecore.checkpoint import CheckpointError, read_extras

    tensors = read_extras(data)
    if not all(name in tensors for name in NAMES):
        return None
    frames, rows, labels = (tensors[name].numpy() for name in NAMES)
    if frames.ndim != 3 or frames.shape[2] != 2 or rows.shape != labels.shape or frames.shape[1] != len(rows):
        raise CheckpointError(f"malformed evolution frames (shape {tuple(frames.shape)} for {len(rows)} digits)")
    return Evolution(frames, rows, labels)
