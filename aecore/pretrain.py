"""Recipes that train the shipped checkpoints, and the model card that reports them."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from aecore import checkpoint, storage
from aecore.classifier import CLASSIFIER_PATH, load_classifier, save_classifier, train_classifier
from aecore.data import DATASETS, ImageData, load
from aecore.metric_info import METRICS
from aecore.metrics import knn_accuracy, per_image_mse
from aecore.models import VARIANTS, build
from aecore.pipeline import fit_and_pack
from aecore.seeding import seed_all
from aecore.storage import write_atomic
from aecore.training import preset

MODELS_DIR = storage.asset("models")  # the shipped checkpoints (read only)


def shipped_name(variant: str, dataset: str = "mnist") -> str:
    """File stem of a shipped model: the variant for MNIST, ``<dataset>_<variant>`` for other data."""
    return variant if dataset == "mnist" else f"{dataset}_{variant}"

def pca_baseline(train_data: ImageData, test: ImageData, dim: int, knn_k: int = 5) -> dict:
    """PCA with ``dim`` components: the linear reference each model card row is set beside."""
    x = train_data.images.flatten(1)
    xt = test.images.flatten(1)
    mean = x.mean(0)
    seed_all(0)
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
    model_cfg, cfg = preset(VARIANTS[name], "recipe", dataset=train_data.dataset)
    model = build(name, model_cfg, seed=cfg.seed)
    made = fit_and_pack(model, train_data, test, cfg, evaluate_fn or (lambda m: {}), on_progress=on_progress)
    path = write_atomic(out_dir / f"{shipped_name(name, train_data.dataset)}.safetensors", made.checkpoint)
    return path, made.metrics


DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def ood_section(ood: dict[str, list[dict]]) -> list[str]:
    """The model card's out-of-distribution table: each model's best AUROC per OOD set (and by which score),
    and for the likelihood models the raw and complexity-corrected -log p(x) against the other dataset."""
    from aecore.anomaly import SCORE_BY_KEY
    from aecore.ood import SET_LABELS

    lines = ["", "## Out-of-distribution detection", "",
             "AUROC of the test split against each OOD set (`aecore ood MODEL`; 2,000 images a set), by the model's",
             "best score for that set; the last columns are the raw and the complexity-corrected likelihood",
             "against the other dataset (Nalisnick et al. 2019; Serrà et al. 2020).", "",
             "| model | other dataset | noise | inverted | −log p(x) vs other | corrected vs other |",
             "|---|---|---|---|---|---|"]
    for name, rows in ood.items():
        sets = list(dict.fromkeys(r["set"] for r in rows))
        cells = []
        for s in sets:
            best = max((r for r in rows if r["set"] == s), key=lambda r: r["auroc"])
            what = f"{SET_LABELS[s].split()[0]}: " if s == sets[0] else ""  # which dataset is "the other"
            cells.append(f"{what}{best['auroc']:.4f} ({SCORE_BY_KEY[best['score']].label})")
        raw = {r["score"]: r["auroc"] for r in rows if r["set"] == sets[0]}
        likelihood = [f"{raw[k]:.3f}" if k in raw else "–" for k in ("nll", "nll_corrected")]
        lines.append(f"| `{name}` | " + " | ".join(cells + likelihood) + " |")
    return lines


def reproduction_section(result: dict | None) -> list[str]:
    """The card's IWAE reproduction section (``scripts/reproduce_iwae.py`` measures it): the paper's rows beside
    the binarized reference models', between markers that the script rewrites."""
    from aecore import reproduction

    body = (reproduction.table(result["rows"]) + "\n" + reproduction.PROTOCOL) if result else \
        "Not measured yet: `python scripts/reproduce_iwae.py`."
    return ["", f"## Likelihood on binarized MNIST ({reproduction.REFERENCE})", "",
            "`vae_bin` and `iwae_bin` are trained and scored on binarized digits; the -ELBO of the grey-level VAEs "
            "above is not comparable with theirs (grey levels under a Bernoulli likelihood are different data).",
            "", "<!-- reproduction -->", body.rstrip("\n"), "<!-- /reproduction -->"]


def model_card(rows: dict[str, dict], pca: dict[tuple, dict], settings: dict[str, dict], machine: str,
               ood: dict[str, list[dict]] | None = None, reproduction: dict | None = None) -> str:
    """Markdown model card: settings, training time and metrics of each model, beside PCA; one table per
    dataset."""
    columns = [m for m in METRICS if m.headline]
    head = "| model | latent | " + " | ".join(m.label for m in columns) + " | PCA MSE | PCA kNN(5) |"
    lines = ["# Pretrained models", "",
             "Trained by `aecore pretrain` on the full training split (60,000 images) of their dataset, evaluated",
             f"on its 10,000-image test split. Machine: {machine}. Each row sits beside PCA with the same latent size.",
             "Training times are wall-clock seconds; some runs shared the machine's 2 cores with other runs, "
             "which inflates their times."]
    for dataset in DATASETS:
        names = [name for name, m in rows.items() if m["dataset"] == dataset]
        if not names:
            continue
        lines += ["", f"## {DATASET_TITLES[dataset]}", "", head, "|" + "---|" * (head.count("|") - 1)]
        for name in names:
            m = rows[name]
            cells = [metric.cell(m.get(metric.key)) for metric in columns]
            p = pca.get((dataset, m["latent_dim"]), {})
            lines.append(f"| `{name}` | {m['latent_dim']} | " + " | ".join(cells)
                         + f" | {p.get('test_mse', float('nan')):.5f} | {p.get('knn5_acc', float('nan')):.2%} |")
    lines += ood_section(ood) if ood else []
    lines += ["", "Variant-specific figures:", ""]
    variant_keys = {m.key for cls in VARIANTS.values() for m in cls.metric_info}
    for name, m in rows.items():
        extra = {k: v for k, v in m.items() if k in variant_keys or k.startswith("denoise_mse_")}
        if extra:
            lines.append(f"- `{name}`: " + ", ".join(f"{k} = {v:.4g}" for k, v in extra.items()))
    lines += ["", "Settings (model config; training config):", ""]
    for name, s in settings.items():
        lines.append(f"- `{name}`: {s['config']}; {s['train']}")
    lines += ["", "The reference classifier (`assets/classifier.safetensors`, a small CNN) judges samples:",
              "a sample counts as recognised when its top softmax probability exceeds 0.9."]
    lines += reproduction_section(reproduction) + [""]
    return "\n".join(lines)


def export_for_browser(models_dir: Path, out_dir: Path | None = None, classifier: Path | None = CLASSIFIER_PATH,
                       log=print) -> list[Path]:
    """Write the browser's ONNX form (aecore.onnx_export) of every checkpoint in ``models_dir`` and of the
    reference classifier into ``out_dir``, each named by its file's sha256; those already there are kept.
    By default where the app looks for them: the shipped folder for the shipped models, else the user cache."""
    from aecore import onnx_export
    from aecore.catalog import file_sha256

    if out_dir is None:
        shipped = Path(models_dir).resolve() == MODELS_DIR.resolve()
        out_dir = onnx_export.SHIPPED_DIR if shipped else onnx_export.cache_dir()
    written = []
    sources = sorted(Path(models_dir).glob("*.safetensors")) + ([Path(classifier)] if classifier else [])
    for path in sources:
        target = Path(out_dir) / onnx_export.file_name(file_sha256(path))
        if not target.exists():
            is_model = path.parent == Path(models_dir)
            graph = onnx_export.export(checkpoint.load(path)[0] if is_model else load_classifier(path))
            written.append(write_atomic(target, onnx_export.pack(graph)))
            log(f"exported {path.name} for the browser: {target.name} ({target.stat().st_size / 1e6:.2f} MB)")
    return written


def write_card(out_dir: Path, data_dir=None) -> Path:
    """Rewrite README.md from every checkpoint in ``out_dir``, so retraining one keeps the others' rows."""
    from aecore.metrics import denoise_mse

    rows, settings, models = {}, {}, {}
    for dataset in DATASETS:
        for name in VARIANTS:
            path = out_dir / f"{shipped_name(name, dataset)}.safetensors"
            if path.exists():
                models[path.stem], meta = checkpoint.load(path)
                rows[path.stem] = {**meta["metrics"], "dataset": dataset}
                settings[path.stem] = {"config": meta["config"], "train": meta["train_config"]}
    pca = {}
    for dataset in {r["dataset"] for r in rows.values()}:
        train_data, test = load(dataset, "train", data_dir), load(dataset, "test", data_dir)
        same_data = {n: m for n, m in models.items() if rows[n]["dataset"] == dataset}
        for name, model in same_data.items():  # a denoiser beside the first plain model with a code of its size
            plain = next((m for m in same_data.values() if not m.denoises and m.latent_dim == model.latent_dim),
                         None)
            if model.denoises and plain is not None:
                c = model.config
                rows[name][f"denoise_mse_{plain.variant}"] = denoise_mse(plain, test, c.noise, c.noise_level)
        for dim in {r["latent_dim"] for r in rows.values() if r["dataset"] == dataset}:
            pca[(dataset, dim)] = pca_baseline(train_data, test, dim)
    from aecore.anomaly import evaluate_ood
    from aecore.catalog import file_sha256

    ood = {name: evaluate_ood(model, file_sha256(out_dir / f"{name}.safetensors"), rows[name]["dataset"],
                              data_dir=data_dir)["rows"] for name, model in models.items()}
    machine = f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    card = out_dir / "README.md"
    measured = out_dir / "reproduction.json"
    reproduced = json.loads(measured.read_text()) if measured.exists() else None
    storage.write_atomic(card, model_card(rows, pca, settings, machine, ood, reproduced).encode())
    return card
