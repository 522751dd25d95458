"""Build a bundled sample (assets/data/<dataset>_sample.npz) from the full dataset: the whole test
split plus a class-balanced slice of the training split (seed 0).

    python scripts/make_sample.py --data-dir ../shared/data                       # MNIST, 10,000 train
    python scripts/make_sample.py --dataset fashion_mnist --train-size 5000      # from Debian's package
"""

import argparse
from pathlib import Path

import numpy as np

from aecore.data import BUNDLED_SAMPLES, DATASETS, balanced_indices, load


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--dataset", default="mnist", choices=DATASETS)
    parser.add_argument("--train-size", type=int, default=10_000)
    args = parser.parse_args()
    target = BUNDLED_SAMPLES[args.dataset]
    arrays = {}
    for split in ("train", "test"):
        data = load(args.dataset, split, args.data_dir, download=False)
        assert not data.source.startswith("bundled"), data.source
        idx = balanced_indices(data.labels, args.train_size) if split == "train" else slice(None)
        arrays[f"{split}_images"] = (data.images[idx, 0] * 255).round().byte().numpy()
        arrays[f"{split}_labels"] = data.labels[idx].byte().numpy()
    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(target, **arrays)
    size = Path(target).stat().st_size
    print(f"wrote {target} ({size / 1e6:.2f} MB): "
          + ", ".join(f"{k} {v.shape}" for k, v in arrays.items()))


if __name__ == "__main__":
    main()
