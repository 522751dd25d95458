"""Each variant's quick preset (``aecore train VARIANT --quick``) against its shipped model.

Trains every variant (or those named) with its quick preset on the full MNIST training split, then
compares the headline metric (test MSE, or the -ELBO for the VAE family) with the shipped checkpoint's.
Targets: at most 60 s of training, and within 10% of the shipped model's headline metric.

    python bench/bench_quick.py --data-dir ../shared/data            # every variant; docs/bench_quick.json
    python bench/bench_quick.py --data-dir ../shared/data conv vae   # some
    python bench/bench_quick.py --data-dir ../shared/data conv --epochs 8 --lr 6e-3   # try other settings
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

from aecore import build, catalog, data
from aecore.metrics import encode_all, negative_elbo, own_metrics, per_image_mse, reconstruct_all
from aecore.models import VARIANTS
from aecore.storage import write_atomic
from aecore.training import preset, train

REPO = Path(__file__).resolve().parents[1]
SECONDS, MARGIN = 60.0, 1.10


def headline(model, test) -> float:
    if model.headline == "neg_elbo":
        return negative_elbo(model, test)["neg_elbo"]
    return float(per_image_mse(reconstruct_all(model, test.images, test.labels), test.images).mean())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--data-dir")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "bench_quick.json")
    tuning = ap.add_argument_group("overrides of the presets' training settings (results are then not saved)")
    for name, kind in (("epochs", int), ("batch_size", int), ("lr", float), ("precision", str)):
        tuning.add_argument("--" + name.replace("_", "-"), type=kind)
    args = ap.parse_args(argv)
    overrides = {k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "precision")}
    train_data, test = data.load("mnist", "train", args.data_dir), data.load("mnist", "test", args.data_dir)
    if train_data.source.startswith("bundled"):
        print("needs the full MNIST: pass --data-dir", file=sys.stderr)
        return 1
    shipped = {e.variant: e for e in catalog.list_models() if e.source == "pretrained" and e.dataset == "mnist"}
    rows = []
    for name in args.variants:
        cls = VARIANTS[name]
        model_cfg, cfg = preset(cls, "quick", **overrides)
        model = build(name, model_cfg, seed=cfg.seed)
        result = train(model, train_data, None, cfg)
        value = headline(result.model.cpu(), test)
        # The variant's own metrics beside the shipped model's: a preset that bought its headline with what the
        # variant is for (denoising, codebook use) would show here.
        own = own_metrics(result.model, test, encode_all(result.model, test))
        shipped_metrics = shipped[name].metrics if name in shipped else {}
        per_epoch = -(-len(train_data) // cfg.batch_size)  # steps; a run fitted into 60 s may plan fewer epochs
        reference = shipped_metrics.get(cls.headline)
        row = {"variant": name, "metric": cls.headline, "quick": value, "shipped": reference,
               "ratio": value / reference if reference else None, "train_seconds": result.seconds,
               "epochs": cfg.epochs, "epochs_run": round(result.history["epochs"][-1]["step"] / per_epoch, 2),
               "out_of_time": result.history["out_of_time"], "batch_size": cfg.batch_size, "lr": cfg.lr,
               "precision": result.history["precision"],
               "own_metrics": {k: {"quick": v, "shipped": shipped_metrics.get(k)} for k, v in own.items()},
               "met": bool(reference and value <= MARGIN * reference and result.seconds <= SECONDS)}
        rows.append(row)
        print(f"{name:10s} {cls.headline:9s} quick {value:.5g} vs shipped {reference or float('nan'):.5g} "
              f"({row['ratio'] or float('nan'):.3f}x) in {result.seconds:5.1f} s, {row['epochs_run']} of {cfg.epochs} "
              f"epochs  {'met' if row['met'] else 'MISSED'}",
              flush=True)
        for k, v in row["own_metrics"].items():
            print(f"{'':10s} {k:9s} quick {v['quick']:.5g} vs shipped {v['shipped'] or float('nan'):.5g}", flush=True)
    machine = f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    if args.variants == list(VARIANTS) and not any(v is not None for v in overrides.values()):
        write_atomic(args.out, json.dumps({"machine": machine, "rows": rows}, indent=1).encode())
    return 0 if all(r["met"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
