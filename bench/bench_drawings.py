"""How the shipped models read digits that are not from MNIST, on every drawings set (tests/data/README.md),
read through the Draw page's preprocessing: the reference classifier's accuracy on each set and each kind of
input in it, against the MNIST test split, and each shipped MNIST autoencoder's reconstruction MSE on each
set against its MNIST test MSE. ``heldout`` is the evaluation set (never trained or tuned on); ``tuning`` is
what preprocessing and the classifier's augmentations were tuned on; ``drawings`` is the first set.

    python bench/bench_drawings.py [--data-dir ../shared/data] [--json docs/bench_drawings.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from aecore import VARIANTS, checkpoint
from aecore.classifier import accuracy, load_classifier
from aecore.data import load
from aecore.pretrain import MODELS_DIR

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import drawings  # noqa: E402  (the drawings sets are test fixtures, not package data)

ACCURACY_TARGET, MNIST_TARGET, RATIO_TARGET = 0.98, 0.993, 1.3  # accuracy per kind; ratio per set
SETS = {"drawings": drawings.DRAWINGS_PATH, "tuning": drawings.TUNING_PATH, "heldout": drawings.HELDOUT_PATH}


def _ratio_by_kind(model, ds, mnist_mse: float) -> dict[str, float]:
    from aecore.metrics import per_image_mse, reconstruct_all

    read = ds.where(~ds.refused)
    per = per_image_mse(reconstruct_all(model, read.images, read.labels if model.conditional else None),
                        read.images).numpy()
    return {k: float(per[read.kinds == k].mean() / mnist_mse) for k in np.unique(read.kinds)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="MNIST root (default: aecore's data rule)")
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parents[1] / "docs/bench_drawings.json")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    sets = {name: drawings.load(path) for name, path in SETS.items()}
    test = load("mnist", "test", args.data_dir, download=False)
    print(f"{sum(map(len, sets.values()))} drawings read in {time.perf_counter() - t0:.1f} s; "
          f"MNIST test: {test.source}")
    clf = load_classifier()
    result = {"targets": {"accuracy_per_kind": ACCURACY_TARGET, "mnist_test": MNIST_TARGET, "ratio": RATIO_TARGET},
              "classifier": {"mnist_test": accuracy(clf, test)}, "refused": {}, "models": {}}
    print(f"\nreference classifier: MNIST test {result['classifier']['mnist_test']:.2%} (target {MNIST_TARGET:.1%}); "
          f"drawings by kind (target {ACCURACY_TARGET:.0%} each):")
    for name, ds in sets.items():
        acc = result["classifier"][name] = drawings.accuracy_by_kind(clf, ds)
        result["refused"][name] = {k: int(ds.refused[ds.kinds == k].sum()) for k in np.unique(ds.kinds)}
        low = [k for k, v in acc.items() if k != "all" and v < ACCURACY_TARGET]
        print(f"  {name:9} ({len(ds)}): " + ", ".join(f"{k} {v:.2%}" for k, v in acc.items())
              + f"; refused {sum(result['refused'][name].values())}" + (f"  under: {', '.join(low)}" if low else ""))
    print(f"\nreconstruction MSE on each set / MNIST test MSE (target <= {RATIO_TARGET} per set); by kind in brackets")
    for name in VARIANTS:
        path = MODELS_DIR / f"{name}.safetensors"
        if not path.exists():
            continue
        model, _ = checkpoint.load(path)
        row = result["models"][name] = {}
        cells = []
        for set_name, ds in sets.items():
            r = drawings.reconstruction_ratio(model, ds, test)
            r["by_kind"] = _ratio_by_kind(model, ds, r["mnist_mse"])
            row[set_name] = r
            flag = "*" if r["ratio"] > RATIO_TARGET else ""
            kinds = " ".join(f"{k} {v:.2f}" for k, v in r["by_kind"].items())
            cells.append(f"{set_name} {r['ratio']:.2f}{flag} ({kinds})")
        row["mnist_mse"] = row["drawings"]["mnist_mse"]
        print(f"  {name:10} " + "; ".join(cells))
    print("  (* over the target)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\n-> {args.json}")
    return result


if __name__ == "__main__":
    main()
