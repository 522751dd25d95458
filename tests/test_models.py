"""Every variant honours the one contract: shapes, loss terms, gradients, sampling, learning."""

import pytest
import torch
from torch import nn

from aecore import VARIANTS, AEOutput, build
from aecore.config import ConfigError, field_specs
from aecore.models import VAEBase

NAMES = list(VARIANTS)


def labels_for(model, y):
    return y  # every model takes labels; only conditional ones read them


@pytest.mark.parametrize("name", NAMES)
def test_forward_contract(name, tiny_batch):
    torch.manual_seed(0)
    x, y = tiny_batch
    model = build(name)
    out = model(x, labels_for(model, y))
    assert isinstance(out, AEOutput)
    assert out.reconstruction.shape == x.shape
    assert 0 <= out.reconstruction.min() and out.reconstruction.max() <= 1
    assert out.latent.shape == (len(x), model.latent_dim)
    assert out.loss.dim() == 0 and torch.isfinite(out.loss)
    assert "recon" in out.terms and all(t.dim() == 0 for t in out.terms.values())
    if isinstance(model, VAEBase):
        assert set(out.terms) == {"recon", "kl"}
        assert out.terms["kl"] >= 0
    if name == "sparse":
        assert "sparsity" in out.terms


@pytest.mark.parametrize("name", NAMES)
def test_backward_reaches_every_parameter(name, tiny_batch):
    x, y = tiny_batch
    model = build(name)
    model(x, labels_for(model, y)).loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("name", NAMES)
def test_encode_decode_reconstruct_shapes(name, tiny_batch):
    x, y = tiny_batch
    model = build(name).eval()
    lab = labels_for(model, y)
    z = model.encode(x, lab)
    assert z.shape == (len(x), model.latent_dim)
    assert model.decode(z, lab).shape == x.shape
    assert model.reconstruct(x, lab).shape == x.shape


@pytest.mark.parametrize("name", NAMES)
def test_a_few_steps_lower_the_loss(name, tiny_batch):
    torch.manual_seed(0)
    x, y = tiny_batch
    model = build(name)
    lab = labels_for(model, y)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)

    def loss():
        torch.manual_seed(1)  # same noise for VAEs and the denoiser before and after
        with torch.no_grad():
            return model(x, lab).loss.item()

    before = loss()
    for _ in range(25):
        opt.zero_grad()
        model(x, lab).loss.backward()
        opt.step()
    assert loss() < 0.9 * before


@pytest.mark.parametrize("name", [n for n, c in VARIANTS.items() if c.generative])
def test_generative_models_sample(name):
    model = build(name).eval()
    gen = torch.Generator().manual_seed(0)
    kwargs = {"label": 3} if model.conditional else {}
    s = model.sample(5, generator=gen, **kwargs)
    assert s.shape == (5, 1, 28, 28)
    again = model.sample(5, generator=torch.Generator().manual_seed(0), **kwargs)
    assert torch.equal(s, again)


def test_cvae_needs_labels(tiny_batch):
    model = build("cvae")
    with pytest.raises(ValueError, match="conditional"):
        model.encode(tiny_batch[0])
    with pytest.raises(ValueError, match="which digit"):
        model.sample(2)
    per_digit = model.sample(10, label=torch.arange(10))
    assert per_digit.shape == (10, 1, 28, 28)


def test_dense_defaults_are_the_classic_architecture():
    model = build("dense")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 64), (64, 784)]
    assert any(isinstance(m, nn.ReLU) for m in model.encoder)
    assert sum(p.numel() for p in model.parameters()) == 784 * 64 + 64 + 64 * 784 + 784
    x = torch.rand(2, 1, 28, 28)
    manual = torch.sigmoid(linears[1](torch.relu(linears[0](x.flatten(1))))).view_as(x)
    assert torch.allclose(model.reconstruct(x), manual, atol=1e-6)


def test_dense_code_space_penalties(tiny_batch):
    """Off by default (the classic loss); when on, each is a named term that its weight scales."""
    x, _ = tiny_batch
    assert set(build("dense", seed=0)(x).terms) == {"recon"}
    model = build("dense", {"contractive": 1e-3, "orthogonal": 2.0}, seed=0)
    out = model(x)
    assert {"contractive", "orthogonal"} <= set(out.terms)
    expected = out.terms["recon"] + 1e-3 * out.terms["contractive"] + 2.0 * out.terms["orthogonal"]
    assert torch.allclose(out.loss, expected)
    # Rows at right angles and of one length cost nothing, whatever that length is.
    with torch.no_grad():
        model.encoder[1].weight.copy_(3.0 * torch.eye(784)[:64])
    assert model(x).terms["orthogonal"] < 1e-6


def test_latent_size_is_a_config_field():
    assert build("dense", {"latent_dim": 8}).encode(torch.rand(3, 1, 28, 28)).shape == (3, 8)


@pytest.mark.parametrize("bad", [{"latent_dim": 0}, {"latent_dim": 10_000}, {"recon_loss": "hinge"},
                                 {"latent_dim": 2.5}, {"colour": "red"}])
def test_silly_hyperparameters_are_refused_with_a_clear_message(bad):
    with pytest.raises(ConfigError) as e:
        build("dense", bad)
    assert list(bad)[0] in str(e.value)


def test_every_config_field_describes_its_widget():
    for cls in VARIANTS.values():
        for spec in field_specs(cls.config_class):
            assert spec["help"], (cls, spec["name"])
            assert spec["choices"] or spec["type"] in ("int", "float", "bool"), spec
            if spec["type"] in ("int", "float"):
                assert spec["min"] is not None and spec["max"] is not None, spec


def test_denoising_noise_warmup_grows_the_noise_while_training_only():
    """noise_warmup (the quick preset's): clean digits first, then the noise grows to its level over that share
    of the run; evaluation always sees the full noise, and a model not warming up is never affected."""
    x = torch.ones(256, 1, 28, 28)

    def share_hit(model):
        return float((model.corrupt(x) == 0).float().mean())

    model = build("denoising", {"noise": "masking", "noise_level": 0.5, "noise_warmup": 0.5}, seed=0).train()
    for done, share in ((0.0, 0.0), (0.25, 0.25), (0.5, 0.5), (1.0, 0.5)):
        model.set_progress(done)
        assert share_hit(model) == pytest.approx(share, abs=0.02), done
    model.set_progress(0.25)
    assert share_hit(model.eval()) == pytest.approx(0.5, abs=0.02)
    plain = build("denoising", {"noise": "masking", "noise_level": 0.5}, seed=0).train()
    plain.set_progress(0.0)
    assert share_hit(plain) == pytest.approx(0.5, abs=0.02)


def test_denoising_corrupts_only_in_forward(tiny_batch):
    x, _ = tiny_batch
    model = build("denoising", {"noise": "masking", "noise_level": 0.5})
    assert not torch.equal(model.corrupt(x), x)
    seen = []
    real = model.corrupt
    model.corrupt = lambda batch: seen.append(batch) or real(batch)
    model(x)
    assert len(seen) == 1 and seen[0] is x  # training's forward corrupts the input ...
    a = model.reconstruct(x)
    assert len(seen) == 1 and torch.equal(a, model.reconstruct(x))  # ... using the model does not


def test_the_registry_lists_every_variant_without_importing_torch():
    """`aecore --help` and `aecore variants` answer in well under a second: torch waits for a model."""
    import subprocess
    import sys

    from aecore.models import description

    code = ("import sys, aecore, aecore.cli; from aecore.models import description; aecore.cli.build_parser(); "
            "print([(n, description(n)) for n in aecore.VARIANTS]); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    listed, torch_loaded = out.splitlines()
    assert torch_loaded == "False"
    assert listed == repr([(name, cls.description) for name, cls in VARIANTS.items()])
    assert all(description(name) == VARIANTS[name].description for name in VARIANTS)  # classes loaded now


def test_the_public_names_still_resolve():
    import aecore
    import aecore.training  # the training module, apart from the function
    from aecore import TrainConfig, train
    from aecore.models import AEOutput as base_output
    from aecore.models import name_of

    assert callable(train) and aecore.train is train and TrainConfig.__name__ == "TrainConfig"
    assert aecore.AEOutput is base_output is AEOutput
    assert [name_of(cls) for cls in VARIANTS.values()] == list(VARIANTS)
    with pytest.raises(AttributeError):
        aecore.no_such_name  # noqa: B018


def test_openmp_workers_sleep_in_the_server_and_spin_in_the_cli(monkeypatch):
    """In the app server a training thread shares the cores with page runs, so OpenMP's workers sleep while
    they wait (spinning ones made training crawl there); aecore alone leaves OpenMP's default, which is
    faster on a quiet machine. A value the user set is kept."""
    import os
    import subprocess
    import sys

    from streamlit.web import cli as streamlit_cli

    from latent_lab.ui import serve

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import os, aecore; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "unset"
    seen = []
    monkeypatch.setattr(streamlit_cli, "main", lambda: seen.append(os.environ.get("OMP_WAIT_POLICY")) or 0)
    monkeypatch.setattr(sys, "argv", sys.argv[:])
    for preset, expected in ((None, "PASSIVE"), ("ACTIVE", "ACTIVE")):
        if preset is None:
            monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
        else:
            monkeypatch.setenv("OMP_WAIT_POLICY", preset)
        assert serve.main(["--port", "8599"]) == 0 and seen[-1] == expected


def test_the_pixel_loss_is_torchs_binary_cross_entropy_in_value_and_gradient():
    """Every loss, bound and score goes through one BCE: torch's numbers (to 1e-5 nats per pixel, from
    saturated logits to the middle) with exactly torch's gradient, in fp32 also under bf16 autocast."""
    import torch.nn.functional as F

    from aecore.models.base import bce_with_logits

    torch.manual_seed(0)
    logits = (torch.randn(32, 784) * torch.logspace(-2, 1.5, 784)).requires_grad_()
    target = torch.rand(32, 784)
    ours, theirs = bce_with_logits(logits, target), F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    assert torch.allclose(ours, theirs, atol=1e-5)
    (g_ours,), (g_theirs,) = torch.autograd.grad(ours.sum(), logits), torch.autograd.grad(theirs.sum(), logits)
    assert torch.equal(g_ours, g_theirs)
    with torch.autocast("cpu", torch.bfloat16):
        half = bce_with_logits(logits.bfloat16(), target)
    assert half.dtype == torch.float32
    assert torch.autograd.grad(half.sum(), logits)[0].dtype == torch.float32


def test_the_vq_codebook_search_finds_the_nearest_entry():
    """The quantiser's search leaves out |z|^2 (the same for every entry): it still picks the nearest one."""
    quantizer = build("vq_vae", seed=0).quantizer
    z = torch.randn(500, quantizer.codebook.shape[1])
    assert torch.equal(quantizer.assign(z), torch.cdist(z, quantizer.codebook).argmin(1))
