"""Build assets/data/mnist_sample.npz from the full MNIST: the whole test split plus a
class-balanced 10,000-image slice of the training split (seed 0).

    python scripts/make_sample.py --data-dir ../shared/data
"""

import argparse
from pathlib import Path

import numpy as np

from aecore.data import BUNDLED_SAMPLE, balanced_indices, load


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--train-size", type=int, default=10_000)
    args = parser.parse_args()
    arrays = {}
    for split in ("train", "test"):
        data = load("mnist", split, args.data_dir, download=False)
        assert data.source.startswith("data root"), data.source
        idx = balanced_indices(data.labels, args.train_size) if split == "train" else slice(None)
        arrays[f"{split}_images"] = (data.images[idx, 0] * 255).round().byte().numpy()
        arrays[f"{split}_labels"] = data.labels[idx].byte().numpy()
    BUNDLED_SAMPLE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(BUNDLED_SAMPLE, **arrays)
    size = Path(BUNDLED_SAMPLE).stat().st_size
    print(f"wrote {BUNDLED_SAMPLE} ({size / 1e6:.2f} MB): "
          + ", ".join(f"{k} {v.shape}" for k, v in arrays.items()))


if __name__ == "__main__":
    main()
