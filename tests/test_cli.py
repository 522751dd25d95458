"""The ``aecore`` command end to end, as a user would run it (offline, on the bundled sample)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from aecore import VARIANTS, build


def run(*args, env_extra=None, cwd=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "aecore", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


@pytest.fixture
def offline(offline_env):
    return {"AECORE_DATA_DIR": str(offline_env), "AECORE_OFFLINE": "1"}


def assert_one_line_error(proc):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "error" in lines[0], proc.stderr


def test_variants_lists_every_name_with_a_description():
    proc = run("variants")
    assert proc.returncode == 0
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert names == list(VARIANTS)


def test_data_reports_sources(offline):
    proc = run("data", env_extra=offline)
    assert proc.returncode == 0 and "bundled sample" in proc.stdout and "found" in proc.stdout


def test_train_then_eval(tmp_path, offline):
    out = tmp_path / "dense.safetensors"
    proc = run("train", "dense", "--epochs", "3", "--train-size", "2000", "--latent-dim", "16", "--json",
               "--out", str(out), env_extra=offline)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"test_mse", "train_seconds", "epochs", "checkpoint", "knn5_acc", "psnr"} <= set(metrics)
    assert metrics["epochs"] == 3 and metrics["checkpoint"] == str(out) and out.exists()
    assert 0 < metrics["test_mse"] < 0.06  # better than predicting the mean digit (0.067)
    assert "bundled sample" in proc.stderr

    proc = run("eval", str(out), "--json", env_extra=offline)
    assert proc.returncode == 0, proc.stderr
    again = json.loads(proc.stdout.strip().splitlines()[-1])
    assert again["test_mse"] == pytest.approx(metrics["test_mse"], rel=1e-5)


def test_train_vae_with_beta(tmp_path, offline):
    out = tmp_path / "vae.safetensors"
    proc = run("train", "vae", "--epochs", "1", "--train-size", "500", "--beta", "2", "--fast-eval", "--json",
               "--out", str(out), env_extra=offline)
    assert proc.returncode == 0, proc.stderr
    from aecore import checkpoint

    model, meta = checkpoint.load(out)
    assert model.config.beta == 2.0 and meta["train_config"]["epochs"] == 1


def test_train_with_other_writers_digits(tmp_path, offline):
    out = tmp_path / "dense.safetensors"
    proc = run("train", "dense", "--epochs", "1", "--train-size", "500", "--augment", "0.5", "--fast-eval",
               "--out", str(out), env_extra=offline)
    assert proc.returncode == 0, proc.stderr
    from aecore import checkpoint

    assert checkpoint.load(out)[1]["train_config"]["augment"] == 0.5


@pytest.mark.parametrize(("args", "status"), [
    (["train", "transformer"], 2),  # usage errors: argparse's status
    (["train", "dense", "--epochs", "many"], 2),
    (["train"], 2),
    (["frobnicate"], 2),
    (["pretrain", "--variants", "dense,transformer"], 2),
    (["train", "dense", "--lr", "-1"], 1),  # bad values and files
    (["train", "dense", "--epochs", "0"], 1),
    (["train", "dense", "--augment", "2"], 1),
    (["train", "dense", "--beta", "2"], 1),
    (["train", "dense", "--latent-dim", "100000"], 1),
    (["eval", "/nonexistent/model.safetensors"], 1),
])
def test_bad_arguments_end_in_one_line(args, status, offline):
    proc = run(*args, env_extra=offline)
    assert_one_line_error(proc)
    assert proc.returncode == status, proc.stderr


def test_eval_says_what_a_file_is_when_it_is_not_a_checkpoint(tmp_path, offline):
    from PIL import Image

    png = tmp_path / "digit.png"
    Image.new("L", (28, 28)).save(png)
    proc = run("eval", str(png), env_extra=offline)
    assert_one_line_error(proc)
    assert proc.returncode == 1 and "not an aecore checkpoint: a PNG image" in proc.stderr


def test_eval_takes_a_shipped_model_by_name(offline):
    proc = run("eval", "dense", "--json", env_extra=offline)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["test_mse"] < 0.0038


def test_train_writes_with_the_users_umask(tmp_path, offline):
    proc = subprocess.run(["sh", "-c", f'umask 022 && exec "{sys.executable}" -m aecore train dense --epochs 1 '
                           "--train-size 500 --fast-eval --quiet --out m.safetensors"],
                          cwd=tmp_path, env={**os.environ, **offline}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "m.safetensors").stat().st_mode & 0o777 == 0o644


def test_eval_refuses_a_pickle(tmp_path, offline):
    bad = tmp_path / "evil.safetensors"
    torch.save(build("dense").state_dict(), bad)
    proc = run("eval", str(bad), env_extra=offline)
    assert_one_line_error(proc)
    assert "not an aecore checkpoint" in proc.stderr and "pickle" in proc.stderr


def test_pretrain_refuses_the_bundled_sample(offline, tmp_path):
    proc = run("pretrain", "--out-dir", str(tmp_path), env_extra=offline)
    assert_one_line_error(proc)
    assert "full MNIST" in proc.stderr


def test_train_quick_uses_the_variants_quick_preset(tmp_path, offline):
    """--quick takes the variant's quick settings; options given on the command line still win."""
    from aecore import checkpoint

    out = tmp_path / "cvae.safetensors"
    proc = run("train", "cvae", "--quick", "--epochs", "1", "--train-size", "500", "--fast-eval",
               "--out", str(out), env_extra=offline)
    assert proc.returncode == 0, proc.stderr
    model, meta = checkpoint.load(out)
    quick_model, quick_train = VARIANTS["cvae"].quick
    assert model.config.latent_dim == quick_model["latent_dim"] and model.config.beta == quick_model["beta"]
    assert meta["train_config"]["lr"] == quick_train["lr"] and meta["train_config"]["epochs"] == 1


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_preset_is_valid(name):
    from aecore.training import PRESETS, preset

    for which in PRESETS:
        model_cfg, cfg = preset(VARIANTS[name], which)
        model = build(name, model_cfg)
        assert cfg.epochs >= 1 and model.latent_dim >= 1
    quick_cfg, recipe_cfg = preset(VARIANTS[name], "quick")[1], preset(VARIANTS[name], "recipe")[1]
    assert quick_cfg.epochs <= recipe_cfg.epochs


def test_training_command_never_imports_the_compiler(tmp_path, offline):
    """torch.optim imports all of torch._dynamo (1.3 s) on first use only to mark code torch.compile should
    skip; the command never compiles, so it trains without it, to the same weights as torch's own Adam."""
    script = ("import sys; from aecore.cli import main; "
              f"code = main(['train', 'dense', '--epochs', '1', '--train-size', '500', '--fast-eval', '--quiet', "
              f"'--out', {str(tmp_path / 'd.safetensors')!r}]); "
              "print(code, 'torch._dynamo' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **offline})
    assert proc.stdout.split() == ["0", "False"], proc.stderr


def test_our_adam_honours_a_grad_scaler_like_torchs():
    """A GradScaler hands a fused Adam the scale and an inf flag as attributes: ours then takes torch's step,
    which unscales the gradients (and would skip the update on an inf), never the direct call."""
    from aecore.optim import Adam

    torch.manual_seed(0)
    a, b = build("dense", seed=0), build("dense", seed=0)
    opts = [Adam(a.parameters(), lr=1e-2, fused=True), torch.optim.Adam(b.parameters(), lr=1e-2, fused=True)]
    x = torch.rand(32, 1, 28, 28)
    for step in range(3):
        for model, opt in zip((a, b), opts, strict=True):
            opt.zero_grad()
            (model(x).loss * 1024.0).backward()
            opt.grad_scale, opt.found_inf = torch.tensor(1024.0), torch.tensor(0.0)
            assert step == 0 or opt is not opts[0] or opt._lean_groups() is None
            opt.step()
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize(("variant", "weight_decay"), [("dense", 0.0), ("conv", 1e-3)])
def test_our_adam_steps_exactly_like_torchs(variant, weight_decay):
    """After torch's own first step ours calls the fused kernel directly: the same weights and state, step by
    step, while the learning rate and beta1 change as the one-cycle schedule changes them."""
    from aecore.optim import Adam

    torch.manual_seed(0)
    a, b = build(variant, seed=0), build(variant, seed=0)
    if variant == "conv":  # as training on the CPU lays them out
        a, b = a.to(memory_format=torch.channels_last), b.to(memory_format=torch.channels_last)
    opts = [Adam(a.parameters(), lr=1e-2, weight_decay=weight_decay, fused=True),
            torch.optim.Adam(b.parameters(), lr=1e-2, weight_decay=weight_decay, fused=True)]
    x = torch.rand(32, 1, 28, 28)
    for step in range(5):
        for model, opt in zip((a, b), opts, strict=True):
            for group in opt.param_groups:
                group["lr"], group["betas"] = 1e-2 / (step + 1), (0.95 - 0.02 * step, 0.999)
            opt.zero_grad()
            model(x).loss.backward()
            opt.step()
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert opts[0]._lean_groups() is not None  # the direct path is the one that ran after the first step
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert all(torch.equal(opts[0].state[p][k], opts[1].state[q][k]) for k in ("step", "exp_avg", "exp_avg_sq"))
