"""Burda, Grosse & Salakhutdinov, *Importance Weighted Autoencoders* (ICLR 2016), Table 1, beside aecore's runs:
the same network (784-200-200-50, tanh, Bernoulli decoder), data (dynamically binarized MNIST) and estimate
(-log p(x) with K = 5000 importance samples per test digit). ``scripts/reproduce_iwae.py`` measures the rows;
the model card and the README show :func:`table`."""

from __future__ import annotations

from pathlib import Path

from aecore import binarize, checkpoint
from aecore.data import load
from aecore.likelihood import importance_nll

REFERENCE = "Burda et al. 2016, Table 1"
# The paper's rows: test NLL (nats) of the 784-200-200-50 network, 3,280 training epochs each, K = 5000.
PAPER = [{"model": "VAE", "k": 1, "nll": 86.76}, {"model": "IWAE", "k": 5, "nll": 85.54},
         {"model": "IWAE", "k": 50, "nll": 84.78}]
PAPER_EPOCHS = 3280
MODELS = ("vae_bin", "iwae_bin")  # the shipped reference checkpoints, trained by scripts/train_iwae_reference.sh


def measure(path: Path, k: int = 5000, seed: int = 0, data_dir=None, on_progress=None) -> dict:
    """One row of aecore's side: the checkpoint's importance-sampled test NLL under its own protocol."""
    model, meta = checkpoint.load(path)
    protocol = (meta.get("train_config") or {}).get("binarize", "none")
    test = binarize.protocol(load(meta.get("dataset", "mnist"), "test", data_dir), protocol)
    result = importance_nll(model, test, k, seed=seed, on_progress=on_progress)
    c, metrics = meta["config"], meta.get("metrics") or {}
    return {"model": path.stem, "objective": "IWAE" if c.get("iwae_k", 1) > 1 else "VAE",
            "k": c.get("iwae_k", 1), "binarize": protocol, "test_source": test.source,
            "network": f"784-{c.get('hidden1')}-{c.get('hidden2')}-{c.get('latent_dim')} {c.get('activation', 'relu')}",
            "epochs": len((meta.get("history") or {}).get("epochs") or []) or metrics.get("epochs"),
            "train_minutes": (metrics.get("train_seconds") or 0) / 60, "eval_k": k, "eval_seed": seed,
            **{key: result[key] for key in ("nll", "nll_se", "neg_elbo", "neg_elbo_se", "n", "seconds")}}


def table(rows: list[dict]) -> str:
    """The paper's rows beside aecore's, as Markdown."""
    lines = ["| source | objective | k (training) | test NLL, nats | K (NLL) | -ELBO, nats | epochs | "
             "training minutes | pixels |", "|---|---|---|---|---|---|---|---|---|"]
    for p in PAPER:
        lines.append(f"| {REFERENCE} | {p['model']} | {p['k']} | {p['nll']:.2f} | 5,000 | – | {PAPER_EPOCHS:,} | – | "
                     "dynamically binarized |")
    for r in rows:
        pixels = "dynamically binarized" if r["binarize"] == "dynamic" else f"binarized ({r['binarize']})"
        lines.append(f"| aecore `{r['model']}` | {r['objective']} | {r['k']} | {r['nll']:.2f} ± {r['nll_se']:.2f} | "
                     f"{r.get('eval_k', 5000):,} | "
                     f"{r['neg_elbo']:.2f} ± {r['neg_elbo_se']:.2f} | {r['epochs']:,} | {r['train_minutes']:.0f} | "
                     f"{pixels} |")
    return "\n".join(lines) + "\n"


PROTOCOL = (
    "Protocol: MNIST with each training batch drawn anew as Bernoulli(grey level) every time it is used (dynamic "
    "binarization); the test split is one fixed seeded Bernoulli sample of the 10,000 test digits (seed "
    f"{binarize.FIXED_SEEDS['test']}), not Larochelle & Murray's published file, which is not available offline. "
    "Network 784-200-200-50, tanh, Gaussian latent, Bernoulli decoder; Adam, batch 100, a cosine learning-rate "
    "decay from 1e-3. NLL: -log of the mean of K = 5000 importance weights per digit (float64 log-sum-exp), "
    "± its standard error over the 10,000 test digits; -ELBO: the mean log-weight of the same samples. aecore's runs "
    "had a time budget on a shared 2-core CPU, so far fewer epochs than the paper's 3,280.")
