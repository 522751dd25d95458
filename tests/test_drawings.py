"""Digits that are not from MNIST, read as the Draw page reads them (tests/drawings.py): the reference
classifier recognises them, and every shipped MNIST autoencoder reconstructs them about as well as MNIST.
The held-out set (sources kept apart from everything the preprocessing and the classifier were built or
tuned on) holds the targets of issue #26; those not reached yet are strict xfails with the measured
numbers (bench/bench_drawings.py), next to floors that keep what is reached."""

import numpy as np
import pytest

from aecore import checkpoint
from aecore.classifier import accuracy, load_classifier
from aecore.data import load
from aecore.pretrain import MODELS_DIR
from tests import drawings

DRAWINGS_ACCURACY, MNIST_ACCURACY, MAX_RATIO = 0.98, 0.993, 1.3
HELDOUT_FLOOR, HELDOUT_RATIO_FLOOR = 0.94, 1.5  # what is reached now (lowest: 8x8 pictures 94.6%, cvae 1.45)
# Shipped models over MAX_RATIO on the held-out drawings (measured: cvae 1.45, its 8-d style code; vae_bin 1.38 and
# iwae_bin 1.304, trained on plain binarized MNIST as the likelihood papers are). vae and conv_vae (1.31 before)
# reach 1.13 and 1.15 trained with other writers' digits (their recipes' augment).
HELDOUT_OVER = {"cvae", "vae_bin", "iwae_bin"}


def _shipped_mnist_models() -> list[str]:
    """Every shipped checkpoint of an MNIST model (the ten variants and the binarized references)."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.safetensors")
                  if checkpoint.read_metadata(p.read_bytes()[:1 << 20]).get("dataset", "mnist") == "mnist")


SHIPPED_MNIST = _shipped_mnist_models()


@pytest.fixture(scope="module")
def drawn():
    return drawings.load()


@pytest.fixture(scope="module")
def heldout():
    return drawings.load(drawings.HELDOUT_PATH)


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
@pytest.mark.parametrize("name", SHIPPED_MNIST)
def test_shipped_autoencoders_reconstruct_drawings_about_as_well_as_mnist(name, drawn, mnist_test):
    model, _ = checkpoint.load(MODELS_DIR / f"{name}.safetensors")
    r = drawings.reconstruction_ratio(model, drawn, mnist_test)
    assert r["ratio"] <= MAX_RATIO, r


def test_the_heldout_set_has_every_kind_balanced_and_shares_no_source_with_tuning(heldout):
    assert drawings.HELDOUT_PATH.stat().st_size <= 2.5e6
    assert np.bincount(heldout.labels.numpy(), minlength=10).tolist() == [len(heldout) // 10] * 10
    assert set(heldout.kinds) == {"canvas", "font", "photo", "lowres"} and set(heldout.paths) == {"canvas", "upload"}

    def origins(path):  # the font, stroke font or writer behind each digit
        return {s.split(":", 1)[1].split("#")[0] for label, s, how, raw in drawings.raw_inputs(path)}

    tuning = origins(drawings.TUNING_PATH)
    assert len(tuning) >= 15 and not origins(drawings.HELDOUT_PATH) & tuning


def test_no_heldout_digit_is_refused(heldout):
    """Heavily inked 8x8 pictures, shadowed photos: every one is read (blank and solid inputs are still
    refused: tests/test_preprocess.py)."""
    assert not heldout.refused.any(), heldout.sources[heldout.refused]


def test_the_reference_classifier_reads_every_kind_of_heldout_digit(heldout, classifier):
    acc = drawings.accuracy_by_kind(classifier, heldout)
    assert min(acc.values()) >= HELDOUT_FLOOR, acc


@pytest.mark.xfail(strict=True, reason="not reached yet: canvas 97.3%, font 96.3%, lowres 94.6%, photo 94.8%")
def test_the_reference_classifier_reaches_the_target_on_every_kind_of_heldout_digit(heldout, classifier):
    acc = drawings.accuracy_by_kind(classifier, heldout)
    assert min(acc.values()) >= DRAWINGS_ACCURACY, acc


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason="over 1.3 yet"))
                                  if n in HELDOUT_OVER else n for n in SHIPPED_MNIST])
def test_shipped_autoencoders_reconstruct_heldout_digits_about_as_well_as_mnist(name, heldout, mnist_test):
    model, _ = checkpoint.load(MODELS_DIR / f"{name}.safetensors")
    r = drawings.reconstruction_ratio(model, heldout, mnist_test)
    assert r["refused"] == 0 and r["ratio"] <= HELDOUT_RATIO_FLOOR, r
    assert r["ratio"] <= MAX_RATIO, r
