"""A digit drawn on the canvas, after MNIST-style preprocessing, is reconstructed as that digit."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from aecore import build, checkpoint, preprocess
from aecore.metrics import per_image_mse
from aecore.pretrain import MODELS_DIR
from aecore.training import TrainConfig, train


def drawn(points: list[tuple[int, int]], width: int = 18) -> np.ndarray:
    """A 280x280 RGBA canvas with white strokes through ``points`` on black, as st_canvas returns it."""
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(img).line(points, fill=(255, 255, 255, 255), width=width, joint="curve")
    return np.asarray(img)


SEVEN = [(70, 60), (210, 60), (160, 150), (120, 240)]
ONE = [(140, 40), (140, 240)]


@pytest.fixture(scope="module")
def dense_model(bundled_train, bundled_test):
    path = MODELS_DIR / "dense.safetensors"
    if path.exists():
        return checkpoint.load(path)[0]
    model = build("dense", seed=0)  # without the shipped file, a short run on the bundled sample
    return train(model, bundled_train, None, TrainConfig(epochs=5, batch_size=32, lr=3e-3)).model


@pytest.mark.parametrize(("points", "digit"), [(SEVEN, 7), (ONE, 1)])
def test_drawn_digit_reconstructs_closest_to_its_class(points, digit, dense_model, bundled_test):
    x = torch.from_numpy(preprocess.from_canvas(drawn(points)))[None, None]
    with torch.no_grad():
        recon = dense_model.reconstruct(x)
    # Mean squared distance from the reconstruction to every test digit of each class.
    dist = per_image_mse(bundled_test.images, recon.expand_as(bundled_test.images))
    per_class = torch.stack([dist[bundled_test.labels == c].mean() for c in range(10)])
    assert int(per_class.argmin()) == digit, per_class
    # And the reconstruction stays close to what was drawn.
    assert float(per_image_mse(recon, x)) < 0.05
