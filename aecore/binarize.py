"""Binarized MNIST, the protocol of the likelihood literature (Burda et al. 2016, IWAE, Table 1, and others).

Three options, one :class:`~aecore.training.TrainConfig` field (``binarize``):

- ``none``: the grey levels, as every shipped model sees them (a Bernoulli likelihood of grey levels, whose nats
  no paper reports);
- ``dynamic``: every training batch is drawn again as Bernoulli(grey level) each time it is used, in the training
  loop from the run's own generator (Burda et al.'s dynamic binarization);
- ``fixed``: one seeded Bernoulli sample of the training grey levels, made once. It is a sample of our own
  (seed :data:`FIXED_SEEDS`), not Larochelle & Murray's published binarized MNIST file, which is not available
  offline.

Under either binarized option the test split is one fixed seeded sample of the 10,000 test digits (seed
:data:`FIXED_SEEDS` ``["test"]``): validation, ``aecore eval`` and its importance-sampled NLL all score it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where bits are drawn: the CLI's parser reads BINARIZE without it
    from torch import Tensor

    from aecore.data import ImageData

BINARIZE = ("none", "dynamic", "fixed")
FIXED_SEEDS = {"train": 2016_0, "test": 2016_1}  # the fixed samples' seeds: the same file everywhere


def sample(images: Tensor, gen) -> Tensor:
    """One Bernoulli(grey level) draw per pixel: 0.0 or 1.0, in the images' dtype and device."""
    import torch

    return torch.bernoulli(images, generator=gen)


def fixed(data: ImageData) -> ImageData:
    """The split's fixed binarization: one Bernoulli sample of its grey levels, drawn on the CPU from the
    split's seed (the same digits give the same bits on any machine and device)."""
    from aecore.data import ImageData
    from aecore.seeding import generator

    seed = FIXED_SEEDS[data.split]
    images = sample(data.images.cpu(), generator(seed)).to(data.images.device)
    return ImageData(images, data.labels, data.dataset, data.split,
                     f"{data.source}, binarized (fixed seeded Bernoulli sample, seed {seed})")


def protocol(data: ImageData, binarize: str) -> ImageData:
    """``data`` as a run with this ``binarize`` option sees it before its loop: grey levels for ``none`` and for
    dynamic training (the loop draws each batch), else the fixed sample. A test split is fixed either way."""
    if binarize not in BINARIZE:
        raise ValueError(f"unknown binarization {binarize!r}: use one of {', '.join(BINARIZE)}")
    if binarize == "none" or binarize == "dynamic" and data.split == "train":
        return data
    return fixed(data)
