"""Same seed, same run: everything seeded draws from a generator of its own, never from torch's global RNG, which
every thread of a server shares (another visitor's Directions page, a reseed) -- and gives the numbers it gave."""

import threading

import numpy as np
import pytest
import torch

from aecore import VARIANTS, build, directions
from aecore.training import TrainConfig, train

WAIT = 60


def legacy_axis_map(codes, step):
    """axis_map as it was, on torch's global RNG."""
    centred = codes - codes.mean(0)
    unit = step / step.norm()
    along = centred @ unit
    rest = centred - along[:, None] * unit
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        _, _, v = torch.pca_lowrank(rest, q=min(3, rest.shape[1]), center=False, niter=4)
    return torch.stack([along / step.norm(), rest @ v[:, 0]], 1).numpy().astype(np.float32)


@pytest.mark.parametrize("shape", [(2000, 16), (40, 64)])
def test_a_direction_map_is_the_same_map_as_before_and_leaves_the_global_rng_alone(shape):
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(shape, generator=gen) * torch.linspace(3, 0.1, shape[1])
    step = torch.randn(shape[1], generator=gen)
    state = torch.get_rng_state()
    np.testing.assert_array_equal(directions.axis_map(z, step), legacy_axis_map(z, step))
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_seeded_build_is_the_one_torch_manual_seed_gave(variant):
    cls = VARIANTS[variant]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        before = cls(cls.config_class()).state_dict()
    now = build(variant, seed=3).state_dict()
    assert all(torch.equal(before[k], now[k]) for k in before)


def test_same_seed_same_run_while_another_thread_uses_the_global_rng(bundled_train, bundled_test):
    """VAE sampling, denoising noise, codebook restarts, an orthogonal start and the shuffling: none of it from
    the global RNG, which another thread reseeds and draws from (and maps directions with) all along."""
    data, val = bundled_train.subset(256, seed=0), bundled_test.subset(64, seed=0)
    cfg = TrainConfig(epochs=2, batch_size=32, seed=5, device="cpu", orthogonal_init=True)
    names = ("vae", "denoising", "vq_vae")

    def runs():
        return {v: train(build(v, seed=5), data, val, cfg).model.state_dict() for v in names}

    quiet = runs()
    stop = threading.Event()

    def meddle():
        z, step = torch.randn(500, 8), torch.randn(8)
        while not stop.is_set():
            torch.manual_seed(int(torch.randint(1000, ())))
            torch.randn(1000)
            directions.axis_map(z, step)

    thread = threading.Thread(target=meddle, daemon=True)
    thread.start()
    try:
        busy = runs()
    finally:
        stop.set()
        thread.join(WAIT)
    for v in names:
        assert all(torch.equal(quiet[v][k], busy[v][k]) for k in quiet[v]), v

