"""The pictures that explain autoencoders at a glance (the Home page and the guided tour): one digit
rebuilt by every model, a map of the codes, digits dreamt up by a VAE, and a model's strangest digits."""

from __future__ import annotations

import numpy as np
import torch

from aecore import images
from aecore.generate import prior_samples

SHOWCASE_DIGIT = 0  # test digit #0 is a clear 7


@torch.no_grad()
def reconstructions_of(models: dict, x: torch.Tensor, label: int) -> torch.Tensor:
    """The digit ``x`` (1, 1, 28, 28) followed by each model's reconstruction of it."""
    out = [x]
    for model in models.values():
        model.eval()
        out.append(model.reconstruct(x, model.labels_for(label, 1)))
    return torch.cat(out)


def map_png(coords, labels, width: int = 420, height: int = 300) -> bytes:
    """A whole latent map as one small PNG, coloured by label with each label's number on its group (colour
    is never the only cue); transparent, so it sits on a light or a dark page alike."""
    png, _, _ = images.scatter_png(coords, images.label_rgb(labels), width=width, height=height, dot=2,
                                   labels=labels, label_size=height // 8)  # shown small: large numbers
    return png


def strangest(test_images: torch.Tensor, scores: np.ndarray, n: int = 8) -> torch.Tensor:
    """The ``n`` images with the highest anomaly scores, strangest first."""
    order = np.argsort(np.asarray(scores), kind="stable")[::-1][:n]
    return test_images[torch.from_numpy(order.copy())]


def dreamt(model, n: int = 16, seed: int = 0) -> torch.Tensor:
    """``n`` prior samples of a generative model (a conditional one writes each digit in turn)."""
    label = torch.arange(n) % 10 if model.conditional else None
    return prior_samples(model, n, 1.0, seed, label)


def assemble(models: dict, test, umap, scores) -> dict:
    """The Home page's pictures from the shipped models: ``models`` maps a name to (entry, model) in registry
    order; ``umap(entry)`` gives a model's shipped map or None; ``scores(entry)`` its test anomaly scores."""
    entries = [entry for entry, _ in models.values()]
    loaded = {name: model for name, (_, model) in models.items()}
    i = SHOWCASE_DIGIT
    out = {"digit_and_reconstructions": reconstructions_of(loaded, test.images[i: i + 1], int(test.labels[i])),
           "reconstruction_names": [e.variant for e in entries]}
    mapped = next(((e, m) for e in entries if (m := umap(e)) is not None), None)
    if mapped:
        out.update(map_png=map_png(mapped[1].coords, test.labels.numpy()), map_label=mapped[1].label,
                   map_model=mapped[0].variant)
    dreamer = next((e for e in entries if e.generative and not e.conditional), None)
    if dreamer:
        out.update(samples=dreamt(loaded[dreamer.name]), sample_model=dreamer.variant)
    judge = entries[0]
    out.update(strangest=strangest(test.images, scores(judge)), anomaly_model=judge.variant)
    return out
