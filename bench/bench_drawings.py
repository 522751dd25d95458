"""How the shipped models read digits that are not from MNIST: the reference classifier's accuracy on the
drawings set (tests/data/drawings.npz, read through the Draw page's preprocessing) and on the MNIST test
split, and each shipped MNIST autoencoder's reconstruction MSE on the drawings against its MNIST test MSE.

    python bench/bench_drawings.py [--data-dir ../shared/data] [--json docs/bench_drawings.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from aecore import VARIANTS, checkpoint
from aecore.classifier import accuracy, load_classifier
from aecore.data import load
from aecore.pretrain import MODELS_DIR

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import drawings  # noqa: E402  (the drawings set is a test fixture, not package data)

ACCURACY_TARGET, MNIST_TARGET, RATIO_TARGET = 0.98, 0.993, 1.3


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="MNIST root (default: aecore's data rule)")
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parents[1] / "docs/bench_drawings.json")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    ds = drawings.load()
    test = load("mnist", "test", args.data_dir, download=False)
    print(f"drawings set: {len(ds)} digits read in {time.perf_counter() - t0:.1f} s; MNIST test: {test.source}")
    clf = load_classifier()
    result = {"classifier": {"drawings": drawings.accuracy_by_kind(clf, ds), "mnist_test": accuracy(clf, test)},
              "models": {}}
    acc = result["classifier"]
    print(f"\nreference classifier: drawings {acc['drawings']['all']:.2%} (target {ACCURACY_TARGET:.0%}), "
          f"MNIST test {acc['mnist_test']:.2%} (target {MNIST_TARGET:.1%})")
    print("  by kind: " + ", ".join(f"{k} {v:.2%}" for k, v in acc["drawings"].items() if k != "all"))
    print(f"\n{'model':10} {'MNIST MSE':>10} {'drawings MSE':>13} {'ratio':>6}  (target <= {RATIO_TARGET})")
    for name in VARIANTS:
        path = MODELS_DIR / f"{name}.safetensors"
        if not path.exists():
            continue
        model, _ = checkpoint.load(path)
        r = drawings.reconstruction_ratio(model, ds, test)
        result["models"][name] = r
        flag = "" if r["ratio"] <= RATIO_TARGET else "  over"
        print(f"{name:10} {r['mnist_mse']:10.5f} {r['drawings_mse']:13.5f} {r['ratio']:6.2f}{flag}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\n-> {args.json}")
    return result


if __name__ == "__main__":
    main()
