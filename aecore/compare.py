"""Side-by-side comparisons of several models: one metrics table, the same digits, a denoising demo."""

from __future__ import annotations

import torch

from aecore.metrics import per_image_mse, psnr, reconstruct_all
from aecore.models import all_metrics
from aecore.noise import corrupt
from aecore.seeding import generator


def metrics_rows(entries, extra: dict[str, dict] | None = None) -> list[dict]:
    """One row per catalog entry: name, variant, source, latent size and every metric (None when missing);
    the columns are the labels of :func:`aecore.models.all_metrics`, in its order."""
    columns = [m for m in all_metrics() if m.key != "latent_dim"]  # the code size has its own column
    rows = []
    for e in entries:
        m = {**e.metrics, **((extra or {}).get(e.name) or {})}
        row = {"model": e.name, "variant": e.variant, "source": e.source, "latent": e.latent_dim,
               "dataset": e.dataset, "pixels": "grey" if e.binarize == "none" else f"binary ({e.binarize})"}
        for metric in columns:
            v = m.get(metric.key)
            row[metric.label] = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        rows.append(row)
    return rows


NATS_NOTE = ("-ELBO nats of the grey-level VAEs and of those trained on binarized digits (pixels: binary, the "
             "likelihood papers' protocol) are not comparable: the grey-level ones score grey levels under a Bernoulli "
             "likelihood, different data with no published figures.")
CITATION = " The binarized ones compare with Burda et al.'s table (docs/reproduction.md)."


def nats_note(entries, cite: bool = True) -> str | None:
    """:data:`NATS_NOTE` where the entries hold models with a likelihood on both kinds of pixels, else None;
    with ``cite``, where the binarized ones' published figures are (a room watching a projector needs no paper)."""
    kinds = {e.binarize == "none" for e in entries if e.can("has_likelihood")}
    return NATS_NOTE + (CITATION if cite else "") if len(kinds) == 2 else None


def column_config(labels) -> dict:
    """{label: streamlit format} for the metric columns among ``labels`` (for st.column_config)."""
    by_label = {m.label: m for m in all_metrics()}
    return {label: by_label[label].streamlit_format for label in labels if label in by_label}


def better_directions(labels) -> str:
    """"Lower MSE, -ELBO nats are better; higher PSNR dB, ... are better." for the columns present."""
    present = [m for m in all_metrics() if m.label in set(labels) and m.better]
    parts = [f"{word.capitalize()} {', '.join(m.label for m in present if m.better == word)}"
             for word in ("lower", "higher") if any(m.better == word for m in present)]
    return " are better; ".join(parts) + " are better." if parts else ""


def sample_indices(n: int, total: int, seed: int = 0) -> torch.Tensor:
    gen = generator(seed)
    return torch.randperm(total, generator=gen)[: min(n, total)].sort().values


@torch.no_grad()
def reconstructions(models: dict, images: torch.Tensor, labels: torch.Tensor) -> dict[str, dict]:
    """Each model's reconstructions of the same images, with per-image MSE."""
    out = {}
    for name, model in models.items():
        rec = reconstruct_all(model, images, labels)
        out[name] = {"images": rec, "mse": per_image_mse(rec, images)}
    return out


@torch.no_grad()
def denoise_demo(models: dict, images: torch.Tensor, labels: torch.Tensor, kind: str, level: float,
                 seed: int = 0) -> dict:
    """Corrupt ``images`` once and feed the same noisy batch to every model.

    Returns {"noisy": tensor, "noisy_psnr": float, "models": {name: {"images", "psnr", "mse"}}},
    PSNR measured against the clean images.
    """
    noisy = corrupt(images, kind, level, generator(seed))
    result = {"noisy": noisy, "noisy_psnr": float(psnr(noisy, images).mean()), "models": {}}
    for name, model in models.items():
        rec = reconstruct_all(model, noisy, labels)
        result["models"][name] = {"images": rec, "psnr": float(psnr(rec, images).mean()),
                                  "mse": float(per_image_mse(rec, images).mean())}
    return result


# Training settings most often to blame for a poor model, in the order a user should look at them.
SUSPECT_SETTINGS = ("lr", "epochs", "train_size", "batch_size")


def quality_warning(variant: str, metrics: dict, train_config: dict, reference: dict | None,
                    factor: float = 2.0) -> str | None:
    """A one-paragraph warning when a model's test MSE is over ``factor`` × that of ``reference`` (the
    metadata of the pretrained model of the same variant), naming the settings that differ from its recipe."""
    ref_mse = ((reference or {}).get("metrics") or {}).get("test_mse")
    mse = metrics.get("test_mse")
    if not isinstance(ref_mse, (int, float)) or not isinstance(mse, (int, float)) or mse <= factor * ref_mse:
        return None
    recipe = (reference or {}).get("train_config") or {}

    def show(key, value):
        if key == "train_size" and not value:  # 0 or None: the whole training split
            return "all"
        return f"{value:g}" if isinstance(value, float) else f"{value:,}"

    differ = [f"{key.replace('_', ' ')} {show(key, train_config.get(key))} (pretrained: {show(key, recipe.get(key))})"
              for key in SUSPECT_SETTINGS if key in recipe and train_config.get(key) != recipe.get(key)]
    return (f"This model's test MSE {mse:.4f} is {mse / ref_mse:.1f}× that of the pretrained {variant} "
            f"({ref_mse:.4f}). " + ("Settings that differ from its recipe: " + "; ".join(differ) + "."
                                    if differ else "Its settings match the recipe: try training longer."))
