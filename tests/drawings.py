"""The drawings set: about a thousand digits that are not from MNIST, read as the Draw page reads them.

``tests/data/drawings.npz`` (a test fixture, made by ``scripts/make_drawings.py``) holds each digit as the
raw input the page receives: a canvas drawing (its grey levels as a PNG, turned back into the RGBA array the
canvas returns) or an uploaded picture file (PNG or JPEG bytes). :func:`load` sends every one through
:func:`aecore.preprocess.from_canvas` or :func:`aecore.preprocess.from_bytes`, so whatever is measured
on the result is what a user of the page would get.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aecore import preprocess

DRAWINGS_PATH = Path(__file__).resolve().parent / "data" / "drawings.npz"
# Digits from sources that differ from MNIST, from drawings.npz and from the classifier's augmentations
# (scripts/make_heldout.py): HELDOUT_PATH only ever evaluates; TUNING_PATH (other fonts and writers) tunes.
HELDOUT_PATH = DRAWINGS_PATH.with_name("drawings_heldout.npz")
TUNING_PATH = DRAWINGS_PATH.with_name("drawings_tuning.npz")


@dataclass
class Drawings:
    images: object  # (N, 1, 28, 28) float32 tensor, after preprocessing
    labels: object  # (N,) int64 tensor
    sources: np.ndarray  # "<kind>" or "<kind>:<font, writer or picture>" per digit
    paths: np.ndarray  # "canvas" or "upload": which preprocess entry point read it
    refused: np.ndarray  # True where preprocessing refused the input (its image is all zeros)

    def __len__(self) -> int:
        return len(self.labels)

    def where(self, mask: np.ndarray) -> Drawings:
        import torch

        idx = torch.from_numpy(np.nonzero(mask)[0])
        return Drawings(self.images[idx], self.labels[idx], self.sources[mask], self.paths[mask], self.refused[mask])

    @property
    def kinds(self) -> np.ndarray:
        """Source without the font or writer: canvas, scan, font, photo or lowres."""
        return np.array([s.split(":")[0] for s in self.sources])


def raw_inputs(path: Path = DRAWINGS_PATH):
    """Yield (label, source, path, input): input is an RGBA array for "canvas", file bytes for "upload"."""
    from PIL import Image

    with np.load(path) as z:
        labels, sources, paths = z["labels"], z["sources"], z["paths"]
        offsets, blobs = z["offsets"], z["blobs"]
    for i, (label, source, how) in enumerate(zip(labels, sources, paths, strict=True)):
        data = blobs[offsets[i]: offsets[i + 1]].tobytes()
        if how == "canvas":
            grey = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
            rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255)])  # white strokes on opaque black
            yield int(label), str(source), str(how), rgba
        else:
            yield int(label), str(source), str(how), data


def load(path: Path = DRAWINGS_PATH) -> Drawings:
    """Every digit of a drawings file, read as the page reads it; a refused input is kept, as zeros, and
    marked, so that it counts as a digit the page could not read."""
    import torch

    digits, labels, sources, paths, refused = [], [], [], [], []
    for label, source, how, raw in raw_inputs(path):
        try:
            digits.append(preprocess.from_canvas(raw) if how == "canvas" else preprocess.from_bytes(raw))
            refused.append(False)
        except preprocess.PreprocessError:
            digits.append(np.zeros((preprocess.SIZE, preprocess.SIZE), np.float32))
            refused.append(True)
        labels.append(label)
        sources.append(source)
        paths.append(how)
    images = torch.from_numpy(np.stack(digits)).unsqueeze(1)
    return Drawings(images, torch.tensor(labels, dtype=torch.int64), np.array(sources), np.array(paths),
                    np.array(refused))


def accuracy_by_kind(classifier, drawings: Drawings) -> dict[str, float]:
    """The classifier's accuracy on the whole set ("all") and on each kind of input; a refused input is wrong."""
    right = (classifier.probabilities(drawings.images).argmax(1) == drawings.labels).numpy() & ~drawings.refused
    kinds = drawings.kinds
    return {"all": float(right.mean()), **{k: float(right[kinds == k].mean()) for k in np.unique(kinds)}}


def reconstruction_ratio(model, drawings: Drawings, test) -> dict[str, float]:
    """A model's mean reconstruction MSE on the drawings and on the MNIST test split, and their ratio.
    A conditional model is given each digit's true label, as the Draw page gives it the chosen one. Refused
    inputs are left out (they have nothing to reconstruct); ``refused`` says how many there were."""
    from aecore.metrics import per_image_mse, reconstruct_all

    def mse(images, labels):
        return float(per_image_mse(reconstruct_all(model, images, labels if model.conditional else None),
                                   images).mean())

    read = drawings.where(~drawings.refused)
    ours, mnist = mse(read.images, read.labels), mse(test.images, test.labels)
    return {"drawings_mse": ours, "mnist_mse": mnist, "ratio": ours / mnist, "refused": int(drawings.refused.sum())}
