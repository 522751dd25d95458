"""Digits that are not from MNIST, read as the Draw page reads them (tests/drawings.py): the reference
classifier recognises them, and every shipped MNIST autoencoder reconstructs them about as well as MNIST."""

import numpy as np
import pytest

from aecore import VARIANTS, checkpoint
from aecore.classifier import accuracy, load_classifier
from aecore.data import load
from aecore.pretrain import MODELS_DIR
from tests import drawings

DRAWINGS_ACCURACY, MNIST_ACCURACY, MAX_RATIO = 0.98, 0.993, 1.3


@pytest.fixture(scope="module")
def drawn():
    return drawings.load()


@pytest.fixture(scope="module")
def mnist_test():
    return load("mnist", "test", data_dir="/nonexistent-aecore-root", download=False)  # the bundled split, whole


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


def test_the_set_is_balanced_and_goes_through_both_entry_points(drawn):
    assert drawings.DRAWINGS_PATH.stat().st_size <= 2.5e6
    assert len(drawn) >= 1000
    assert np.bincount(drawn.labels.numpy(), minlength=10).tolist() == [len(drawn) // 10] * 10
    assert set(drawn.paths) == {"canvas", "upload"}
    assert set(drawn.kinds) == {"canvas", "scan", "font"}
    assert len({s for s in drawn.sources if s.startswith("font:")}) >= 20  # many typefaces, not one
    assert tuple(drawn.images.shape[1:]) == (1, 28, 28) and 0 <= drawn.images.min() and drawn.images.max() <= 1


def test_canvas_entries_are_what_the_canvas_returns():
    label, source, how, rgba = next(drawings.raw_inputs())
    assert how == "canvas" and rgba.shape == (280, 280, 4) and rgba.dtype == np.uint8
    assert (rgba[..., 3] == 255).all() and rgba[0, 0, :3].tolist() == [0, 0, 0]  # white strokes on black


def test_the_reference_classifier_reads_the_drawings(drawn, classifier):
    acc = drawings.accuracy_by_kind(classifier, drawn)
    assert acc["all"] >= DRAWINGS_ACCURACY, acc
    assert min(acc.values()) >= 0.95, acc  # no kind of input is left behind


def test_the_reference_classifier_still_reads_mnist(mnist_test, classifier):
    assert accuracy(classifier, mnist_test) >= MNIST_ACCURACY


@pytest.mark.slow
@pytest.mark.parametrize("name", list(VARIANTS))
def test_shipped_autoencoders_reconstruct_drawings_about_as_well_as_mnist(name, drawn, mnist_test):
    path = MODELS_DIR / f"{name}.safetensors"
    if not path.exists():
        pytest.skip(f"{path.name} is not shipped")
    model, _ = checkpoint.load(path, expect_variant=name)
    r = drawings.reconstruction_ratio(model, drawn, mnist_test)
    assert r["ratio"] <= MAX_RATIO, r
