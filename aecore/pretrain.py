"""Recipes that train the shipped checkpoints, and the model card that reports them."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import torch

from aecore import checkpoint, storage
from aecore.classifier import CLASSIFIER_PATH, load_classifier, save_classifier, train_classifier
from aecore.data import ImageData
from aecore.metrics import knn_accuracy, per_image_mse
from aecore.models import VARIANTS, build
from aecore.train import config_for, train

MODELS_DIR = storage.asset("models")  # the shipped checkpoints (read only)

# Longer runs than the quick defaults: these are the shipped models, trained once.
RECIPES: dict[str, tuple[dict, dict]] = {
    # Contractive and orthogonality penalties trade a little MSE for codes whose neighbours share
    # a label (kNN); longer runs lower MSE but also kNN.
    "dense": ({"contractive": 1e-4, "orthogonal": 1.0}, {"epochs": 25, "batch_size": 64, "lr": 5e-3}),
    "deep": ({}, {"epochs": 40, "batch_size": 64, "lr": 2e-3}),
    "conv": ({}, {"epochs": 20, "batch_size": 128, "lr": 3e-3}),
    # The same code size as `dense`, so the two compare like for like on corrupted digits.
    "denoising": ({"latent_dim": 64}, {"epochs": 30, "batch_size": 128, "lr": 3e-3}),
    "sparse": ({"rho": 0.04, "weight": 0.03}, {"epochs": 40, "batch_size": 128, "lr": 2e-3}),
    "vae": ({}, {"epochs": 40, "batch_size": 128, "lr": 2e-3}),
    "conv_vae": ({}, {"epochs": 30, "batch_size": 128, "lr": 3e-3}),
    # The label carries the digit, so a small style space suffices; beta > 1 leaves fewer holes
    # between posteriors, so prior samples are recognisable (>= 95% as the digit asked for).
    "cvae": ({"latent_dim": 8, "beta": 1.25}, {"epochs": 60, "batch_size": 128, "lr": 2e-3}),
}


def pca_baseline(train_data: ImageData, test: ImageData, dim: int, knn_k: int = 5) -> dict:
    """PCA with ``dim`` components: the linear reference each model card row is set beside."""
    x = train_data.images.flatten(1)
    xt = test.images.flatten(1)
    mean = x.mean(0)
    torch.manual_seed(0)
    _, _, v = torch.pca_lowrank(x - mean, q=min(dim + 10, 784), center=False, niter=6)
    basis = v[:, :dim]
    codes, test_codes = (x - mean) @ basis, (xt - mean) @ basis
    recon = (test_codes @ basis.T + mean).clamp(0, 1)
    return {"test_mse": float(per_image_mse(recon, xt).mean()),
            f"knn{knn_k}_acc": knn_accuracy(codes, train_data.labels, test_codes, test.labels, knn_k)}


def ensure_classifier(train_data: ImageData, test: ImageData, out_dir: Path, log=print):
    """The shipped reference classifier, or else one trained now and saved in ``out_dir``."""
    for path in (CLASSIFIER_PATH, out_dir / CLASSIFIER_PATH.name):
        if path.exists():
            return load_classifier(path)
    log("training the reference classifier")
    model, info = train_classifier(train_data, test, log=log)
    info["source"] = train_data.source
    save_classifier(model, info, out_dir / CLASSIFIER_PATH.name)
    return model.eval()


def pretrain_one(name: str, train_data: ImageData, test: ImageData, out_dir: Path,
                 on_progress=None, evaluate_fn=None) -> tuple[Path, dict]:
    model_cfg, train_cfg = RECIPES[name]
    cfg = config_for(VARIANTS[name], **train_cfg)
    model = build(name, model_cfg, seed=cfg.seed)
    t0 = time.perf_counter()
    result = train(model, train_data, test, cfg, on_progress=on_progress)
    seconds = time.perf_counter() - t0
    metrics = evaluate_fn(result.model) if evaluate_fn else {}
    metrics["train_seconds"] = seconds
    path = checkpoint.save(result.model, out_dir / f"{name}.safetensors", train_config=cfg.__dict__,
                           dataset=train_data.dataset, data_source=train_data.source, history=result.history,
                           metrics=metrics)
    return path, metrics


METRIC_COLUMNS = [("test_mse", "MSE", "{:.5f}"), ("psnr", "PSNR dB", "{:.2f}"), ("ssim", "SSIM", "{:.3f}"),
                  ("knn5_acc", "kNN(5)", "{:.2%}"), ("active_units", "active", "{:.0%}"),
                  ("neg_elbo", "-ELBO nats", "{:.1f}"), ("params", "params", "{:,}"),
                  ("train_seconds", "train s", "{:.0f}")]


def model_card(rows: dict[str, dict], pca: dict[int, dict], settings: dict[str, dict], machine: str) -> str:
    """Markdown model card: settings, training time and metrics of each model, beside PCA."""
    head = "| model | latent | " + " | ".join(c[1] for c in METRIC_COLUMNS) + " | PCA MSE | PCA kNN(5) |"
    lines = ["# Pretrained models", "",
             "Trained by `aecore pretrain` on full MNIST (60,000 training images), evaluated on the",
             f"10,000-image test split. Machine: {machine}. Each row sits beside PCA with the same latent size.",
             "Training times are wall-clock seconds; some runs shared the machine's 2 cores with other runs, "
             "which inflates their times.",
             "", head, "|" + "---|" * (head.count("|") - 1)]
    for name, m in rows.items():
        cells = [fmt.format(m[key]) if key in m else "–" for key, _, fmt in METRIC_COLUMNS]
        p = pca.get(m["latent_dim"], {})
        lines.append(f"| `{name}` | {m['latent_dim']} | " + " | ".join(cells)
                     + f" | {p.get('test_mse', float('nan')):.5f} | {p.get('knn5_acc', float('nan')):.2%} |")
    lines += ["", "Variant-specific figures:", ""]
    for name, m in rows.items():
        extra = {k: v for k, v in m.items() if k in ("mean_activation", "denoise_mse", "denoise_mse_dense",
                                                  "samples_recognised", "samples_as_requested",
                                                  "recon_nats", "kl_nats")}
        if extra:
            lines.append(f"- `{name}`: " + ", ".join(f"{k} = {v:.4g}" for k, v in extra.items()))
    lines += ["", "Settings (model config; training config):", ""]
    for name, s in settings.items():
        lines.append(f"- `{name}`: {s['config']}; {s['train']}")
    lines += ["", "The reference classifier (`assets/classifier.safetensors`, a small CNN) judges samples:",
              "a sample counts as recognised when its top softmax probability exceeds 0.9.", ""]
    return "\n".join(lines)


def write_card(out_dir: Path, train_data: ImageData, test: ImageData) -> Path:
    """Rewrite README.md from every checkpoint in ``out_dir``, so retraining one keeps the others' rows."""
    from aecore.metrics import denoise_mse

    rows, settings, models = {}, {}, {}
    for name in VARIANTS:
        path = out_dir / f"{name}.safetensors"
        if path.exists():
            models[name], meta = checkpoint.load(path)
            rows[name] = dict(meta["metrics"])
            settings[name] = {"config": meta["config"], "train": meta["train_config"]}
    if "denoising" in models and "dense" in models:
        c = models["denoising"].config
        rows["denoising"]["denoise_mse_dense"] = denoise_mse(models["dense"], test, c.noise, c.noise_level)
    dims = sorted({r["latent_dim"] for r in rows.values()})
    pca = {dim: pca_baseline(train_data, test, dim) for dim in dims}
    machine = f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    card = out_dir / "README.md"
    card.write_text(model_card(rows, pca, settings, machine))
    return card
