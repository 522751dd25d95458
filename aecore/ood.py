"""Out-of-distribution sets, and how well an anomaly score separates them from a model's own test split:
AUROC (with ties), the ROC curve, the false-positive rate at 95% true positives, and a drawing's percentile
among the test digits in words."""

from __future__ import annotations

import math

import numpy as np
import torch

from aecore.data import DATASETS, ImageData, load
from aecore.errors import InputError
from aecore.seeding import generator

SET_SIZE = 2000  # images per OOD set (AUROC's standard error at this size is below 0.005)

# ---- OOD sets ---------------------------------------------------------------------------------------

def other_dataset(dataset: str) -> str:
    return next(d for d in DATASETS if d != dataset)


def set_names(dataset: str) -> list[str]:
    """The OOD sets for a model of ``dataset``, in display order."""
    return [other_dataset(dataset), "noise", "inverted"]


SET_LABELS = {"mnist": "MNIST digits", "fashion_mnist": "Fashion-MNIST clothes", "noise": "uniform noise",
              "inverted": "inverted test images"}


def ood_set(name: str, dataset: str, n: int = SET_SIZE, seed: int = 0, data_dir=None) -> ImageData:
    """``n`` out-of-distribution images for a model of ``dataset``, made locally and repeatably."""
    if name in DATASETS:
        if name == dataset:
            raise InputError(f"{name} is the model's own dataset, not an OOD set")
        return load(name, "test", data_dir).subset(n, seed)
    if name == "noise":
        images = torch.rand((n, 1, 28, 28), generator=generator(seed))
        return ImageData(images, torch.full((n,), -1), "noise", "test", f"uniform noise ({n:,} images, seed {seed})")
    if name == "inverted":
        own = load(dataset, "test", data_dir).subset(n, seed)
        return ImageData(1 - own.images, own.labels, "inverted", "test", f"inverted {own.source}")
    raise InputError(f"unknown OOD set {name!r}: use {', '.join(set_names(dataset))}")


def parse_sets(text: str, dataset: str) -> list[str]:
    """``"fashion_mnist,noise"`` -> names, checked against the sets a model of ``dataset`` has."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    allowed = set_names(dataset)
    bad = [t for t in names if t not in allowed]
    if bad or not names:
        raise InputError(f"unknown OOD set {', '.join(bad) or '(none)'} for a {dataset} model: "
                         f"choose from {', '.join(allowed)}")
    return names


# ---- metrics ----------------------------------------------------------------------------------------

def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their average rank."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    return (upper - (counts - 1) / 2.0)[inverse]


def auroc(normal: np.ndarray, anomalous: np.ndarray) -> float:
    """Area under the ROC curve with the anomalous images as positives (Mann-Whitney U, ties count half)."""
    normal, anomalous = np.asarray(normal, np.float64), np.asarray(anomalous, np.float64)
    n, m = len(normal), len(anomalous)
    if n == 0 or m == 0:
        raise InputError("AUROC needs images on both sides")
    ranks = _ranks(np.concatenate([normal, anomalous]))
    return float((ranks[n:].sum() - m * (m + 1) / 2) / (n * m))


def roc_curve(normal: np.ndarray, anomalous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) at every threshold, from (0, 0) to (1, 1)."""
    scores = np.concatenate([normal, anomalous]).astype(np.float64)
    positive = np.concatenate([np.zeros(len(normal)), np.ones(len(anomalous))])
    order = np.argsort(-scores, kind="mergesort")
    scores, positive = scores[order], positive[order]
    last_of_tie = np.r_[np.diff(scores) != 0, True]
    tp, fp = np.cumsum(positive)[last_of_tie], np.cumsum(1 - positive)[last_of_tie]
    return np.r_[0.0, fp / max(len(normal), 1)], np.r_[0.0, tp / max(len(anomalous), 1)]


def fpr_at_tpr(normal: np.ndarray, anomalous: np.ndarray, tpr: float = 0.95) -> float:
    """Share of normal images flagged at the threshold that flags ``tpr`` of the anomalous ones."""
    ranked = np.sort(np.asarray(anomalous, np.float64))[::-1]
    threshold = ranked[max(0, math.ceil(tpr * len(ranked) - 1e-9) - 1)]  # the smallest that flags ``tpr`` of them
    return float((np.asarray(normal) >= threshold).mean())


def percentile(value: float, reference: np.ndarray) -> float:
    """Share (0-100) of ``reference`` scores below ``value``: "stranger than p% of the test split"."""
    reference = np.asarray(reference)
    return float(100.0 * ((reference < value).sum() + 0.5 * (reference == value).sum()) / len(reference))


def in_words(pct: float, dataset: str) -> str:
    """A percentile as a sentence for people: "stranger than 97% of MNIST test digits"."""
    nouns = {"mnist": "MNIST test digits", "fashion_mnist": "Fashion-MNIST test images"}
    return f"stranger than {pct:.0f}% of {nouns.get(dataset, dataset + ' test images')}"


def flagged_share(values: np.ndarray, threshold: float) -> float:
    return float((np.asarray(values) >= threshold).mean())


def summary(scores_in: dict[str, np.ndarray], scores_out: dict[str, dict[str, np.ndarray]]) -> list[dict]:
    """Rows {set, score, auroc, fpr95} for every OOD set and score."""
    return [{"set": name, "score": key, "auroc": auroc(scores_in[key], out[key]),
             "fpr95": fpr_at_tpr(scores_in[key], out[key])}
            for name, out in scores_out.items() for key in scores_in]


