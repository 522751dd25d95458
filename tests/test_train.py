"""The shared training loop: it learns, reports, stops on request, and refuses to diverge silently."""

import pytest
import torch

from aecore import build
from aecore.data import ImageData
from aecore.device import pick_device
from aecore.training import TrainConfig, TrainingDiverged, config_for, train


@pytest.fixture(scope="module")
def small(bundled_train, bundled_test):
    return bundled_train.subset(1000), bundled_test.subset(500)


def test_training_lowers_validation_loss_and_records_history(small):
    tr, te = small
    events = []
    result = train(build("dense"), tr, te, TrainConfig(epochs=3, batch_size=50, lr=5e-3),
                   on_progress=events.append, report_every=10)
    epochs = result.history["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert epochs[-1]["val"]["loss"] < epochs[0]["val"]["loss"]
    assert {"loss", "recon"} <= set(epochs[0]["train"]) and "lr" in epochs[0]
    assert [e.kind for e in events].count("epoch") == 3
    steps = [e for e in events if e.kind == "step"]
    assert steps and steps[-1].step == 60 and steps[-1].fraction == 1.0
    assert not result.stopped_early and result.seconds > 0


def test_vae_history_has_every_loss_term(small):
    tr, te = small
    result = train(build("vae"), tr, te, TrainConfig(epochs=1, batch_size=100))
    assert set(result.history["epochs"][0]["val"]) == {"loss", "recon", "kl"}


def test_stop_request_ends_early_with_a_usable_model(small, tiny_batch):
    tr, te = small
    calls = {"n": 0}

    def stop_after_5():
        calls["n"] += 1
        return calls["n"] >= 5

    result = train(build("conv"), tr, te, TrainConfig(epochs=5, batch_size=50), should_stop=stop_after_5)
    assert result.stopped_early
    assert result.history["epochs"][-1]["step"] == 5
    assert torch.isfinite(result.model.reconstruct(tiny_batch[0])).all()


def test_same_seed_same_run(small):
    tr, te = small
    a = train(build("dense", seed=7), tr, None, TrainConfig(epochs=1, batch_size=100, seed=7)).model
    b = train(build("dense", seed=7), tr, None, TrainConfig(epochs=1, batch_size=100, seed=7)).model
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_non_finite_loss_stops_with_a_clear_message_and_good_weights(small):
    tr, _ = small
    poisoned = tr.images.clone()
    poisoned[500:] = float("nan")
    bad = ImageData(poisoned, tr.labels, "mnist", "train", "test")
    model = build("dense")
    with pytest.raises(TrainingDiverged, match="learning rate"):
        train(model, bad, None, TrainConfig(epochs=2, batch_size=100))
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_divergence_message_mentions_beta_for_large_beta(small):
    tr, _ = small
    poisoned = ImageData(tr.images * float("nan"), tr.labels, "mnist", "train", "test")
    with pytest.raises(TrainingDiverged, match="beta"):
        train(build("vae", {"beta": 50.0}), poisoned, None, TrainConfig(epochs=1))


def test_variant_defaults_and_overrides():
    from aecore import VARIANTS

    cfg = config_for(VARIANTS["dense"], epochs=2, lr=None)
    assert cfg.epochs == 2 and cfg.batch_size == 64 and cfg.lr == 6e-3 and cfg.init_output_bias


@pytest.mark.parametrize("variant", ["dense", "deep", "sparse"])
def test_output_bias_starts_at_the_mean_digit(small, variant):
    """A fresh model whose last layer has a per-pixel bias then reconstructs about the mean digit, not grey:
    a lower loss before any step."""
    from aecore.training import init_output_bias, loss_terms

    tr, te = small
    plain, primed = build(variant, seed=0), build(variant, seed=0)
    assert init_output_bias(primed, tr.images)
    assert torch.allclose(torch.sigmoid(primed.output_bias()), tr.images.mean(0).flatten().clamp(1e-3, 1 - 1e-3),
                          atol=1e-5)
    assert loss_terms(primed, te)["recon"] < 0.7 * loss_terms(plain, te)["recon"]
    # A model without a per-pixel output bias is left alone, and says so.
    assert not init_output_bias(build("conv", seed=0), tr.images)
    # Off by default in TrainConfig, so fine-tuning a trained model keeps its bias.
    trained = build("dense", seed=0)
    before = trained.output_bias().clone()
    train(trained, tr, None, TrainConfig(epochs=1, batch_size=1000, lr=1e-6))
    assert torch.allclose(trained.output_bias(), before, atol=1e-4)


@pytest.mark.parametrize(("cuda", "mps", "expected"), [(True, True, "cuda"), (False, True, "mps"),
                                                       (False, False, "cpu")])
def test_auto_picks_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert pick_device("auto").type == expected


def test_asking_for_a_missing_device_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="CUDA"):
        pick_device("cuda")
    with pytest.raises(ValueError, match="MPS"):
        pick_device("mps")


def test_bf16_training_learns_and_leaves_plain_fp32_weights(small, tmp_path):
    """The quick presets' fast path: bf16 arithmetic (and channels-last convolutions) while training, then
    ordinary fp32 contiguous weights that save and load like any others."""
    from aecore import checkpoint
    from aecore.training import loss_terms

    tr, te = small
    model = build("conv", seed=0)
    before = loss_terms(model, te)["loss"]
    result = train(model, tr, te, TrainConfig(epochs=2, batch_size=50, lr=3e-3, precision="bf16"))
    assert result.history["precision"] == "bf16"
    assert loss_terms(model, te)["loss"] < 0.8 * before
    assert all(p.dtype == torch.float32 and p.is_contiguous() for p in model.state_dict().values()
               if p.is_floating_point())
    checkpoint.save(model, tmp_path / "conv.safetensors")
    loaded, _ = checkpoint.load(tmp_path / "conv.safetensors")
    assert torch.equal(loaded.state_dict()["encoder.0.weight"], model.state_dict()["encoder.0.weight"])


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_precision_is_bf16_only_where_the_processor_has_it(monkeypatch, native, expected):
    import aecore.training as training

    monkeypatch.setattr(training, "bf16_is_native", lambda device: native)
    cfg = TrainConfig(precision="auto")
    assert training.resolve_precision(cfg, torch.device("cpu")) == expected
    assert training.resolve_precision(TrainConfig(precision="fp32"), torch.device("cpu")) == "fp32"


def test_bulk_work_uses_the_model_itself_on_the_cpu():
    """compute_copy: the model itself where there is no GPU (a copy there, so shared models never move)."""
    import torch

    from aecore import build
    from aecore.device import compute_copy

    model = build("dense", {"latent_dim": 4})
    assert compute_copy(model, "cpu") is model
    if torch.cuda.is_available():  # only where there is one: no test needs a GPU
        copy = compute_copy(model, "cuda")
        assert copy is not model and next(copy.parameters()).is_cuda and not next(model.parameters()).is_cuda


def test_a_time_limit_ends_the_run_in_time_with_the_whole_schedule(small):
    """max_seconds (the quick presets' minute): a run asked for far more epochs than fit ends at the limit,
    having followed the whole learning-rate schedule in that time (so it ends annealed), and it learned."""
    tr, te = small
    cfg = TrainConfig(epochs=500, batch_size=50, lr=5e-3, max_seconds=2.0)
    events = []
    result = train(build("dense", seed=0), tr, te, cfg, on_progress=events.append, report_every=10)
    history = result.history
    assert result.seconds < 2.0 + 0.5 and not result.stopped_early
    steps_run = history["epochs"][-1]["step"]
    assert history["out_of_time"] and 20 < steps_run < 500 * 20
    lrs = [e["lr"] for e in history["epochs"]]
    assert max(lrs) > 0.9 * cfg.lr and lrs[-1] < cfg.lr / 100  # warmed up to the peak, then annealed
    assert history["epochs"][-1]["val"]["loss"] < history["epochs"][0]["val"]["loss"]
    assert events[-1].fraction == 1.0 and events[-1].step == steps_run


def test_the_loop_tells_the_model_how_far_the_run_is(small):
    """Every step the model hears the share of the run done (a noise warm-up follows it): from 0, never back,
    and 1 at the end, also when a stop request ends the run early."""
    tr, _ = small
    for stop_after in (None, 10):
        model, heard = build("dense", seed=0), []
        model.set_progress = heard.append
        train(model, tr, None, TrainConfig(epochs=2, batch_size=50),
              should_stop=stop_after and (lambda n=stop_after, heard=heard: len(heard) > n))
        assert heard[0] == 0.0 and heard == sorted(heard) and heard[-1] == 1.0
        assert len(heard) == 1 + (stop_after or 2 * 20) + 1  # the start, every step, the end


def test_the_schedule_is_torchs_one_cycle():
    from aecore.optim import schedule_at

    model = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    total = 200
    ref = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=total, pct_start=0.15)
    cfg = TrainConfig(lr=1e-3)
    for step in range(total - 1):
        lr, beta1 = schedule_at(cfg, step / (total - 1))
        # torch counts phases to step total - 1 and ends the warm-up at step 0.15 * total - 1: a step apart at most
        assert lr == pytest.approx(opt.param_groups[0]["lr"], rel=0.05, abs=2e-5)
        assert beta1 == pytest.approx(opt.param_groups[0]["betas"][0], abs=0.01)
        opt.step()
        ref.step()


def test_the_quick_preset_takes_a_minute_at_most():
    from aecore import VARIANTS
    from aecore.training import QUICK_SECONDS, preset

    assert all(preset(cls, "quick")[1].max_seconds == QUICK_SECONDS == 60 for cls in VARIANTS.values())
    assert preset(VARIANTS["conv"], "quick", max_seconds=5)[1].max_seconds == 5
    assert preset(VARIANTS["conv"], "default")[1].max_seconds == 0


@pytest.mark.parametrize("variant", ["deep", "conv"])
def test_an_orthogonal_start_is_orthogonal_and_learns_faster(small, variant):
    """TrainConfig.orthogonal_init (some quick presets): every weight matrix starts with orthonormal rows or
    columns and every bias at zero, also on a channels-last model; the deep MLP then gets further in the same
    steps than from torch's default start."""
    from torch import nn

    from aecore.training import loss_terms, orthogonal_init

    tr, te = small
    model = build(variant, seed=0).to(memory_format=torch.channels_last)
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    assert orthogonal_init(model) == len(layers) >= 4
    for layer in layers:
        w = layer.weight.flatten(1)  # a kernel per output channel (per input channel when transposed)
        gram = w @ w.T if len(w) <= w.shape[1] else w.T @ w
        assert torch.allclose(gram, torch.eye(len(gram)), atol=1e-4)
        assert not layer.bias.any()
    assert not TrainConfig().orthogonal_init  # off by default: it would wipe a trained model
    if variant == "deep":  # the deep MLP's early steps gain most (seeds 0-2: 8-17% lower loss after 100 steps)
        settings = {"epochs": 5, "batch_size": 50, "lr": 3e-3}
        plain = train(build(variant, seed=0), tr, None, TrainConfig(**settings)).model
        ortho = train(build(variant, seed=0), tr, None, TrainConfig(**settings, orthogonal_init=True)).model
        assert loss_terms(ortho, te)["loss"] < 0.95 * loss_terms(plain, te)["loss"]


def test_other_writers_varies_digits_and_keeps_them_digits(tiny_batch):
    from aecore.augment import other_writers
    from aecore.seeding import generator

    x = tiny_batch[0]
    varied = other_writers(x, generator(0), clean=0.0)
    assert varied.shape == x.shape and varied.min() >= 0 and varied.max() <= 1
    assert all(not torch.equal(a, b) for a, b in zip(varied, x, strict=True))
    ink_kept = varied.sum((1, 2, 3)) / x.sum((1, 2, 3))
    assert ink_kept.min() > 0.3 and ink_kept.max() < 6  # thinner or thicker strokes (two pixels more at most)
    assert torch.equal(other_writers(x, generator(0), clean=0.0), varied)  # seeded: the same run again
    assert torch.equal(other_writers(x, generator(0), clean=1.0), x)


def test_training_with_augment_learns_from_varied_digits(small):
    tr, te = small
    plain = train(build("dense", seed=3), tr, te, TrainConfig(epochs=2, batch_size=50, lr=5e-3, seed=3)).model
    result = train(build("dense", seed=3), tr, te, TrainConfig(epochs=2, batch_size=50, lr=5e-3, seed=3,
                                                               augment=0.5))
    epochs = result.history["epochs"]
    assert epochs[-1]["val"]["loss"] < epochs[0]["val"]["loss"]
    assert not all(torch.equal(p, q) for p, q in zip(plain.parameters(), result.model.parameters(), strict=True))
