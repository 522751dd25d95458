"""aecore speed benchmark: training throughput of every variant, the dense epoch against a plain
torchvision DataLoader loop, the default `dense` run's time to target, and peak memory.

    python bench/bench_aecore.py [--data-dir ../shared/data] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import torch

from aecore import VARIANTS, build
from aecore.data import batches, load
from aecore.metrics import per_image_mse, reconstruct_all
from aecore.training import config_for, train


def samples_per_second(name: str, images, labels, batch_size: int = 128, seconds: float = 3.0) -> float:
    """Training throughput (forward + backward + Adam step) on in-memory batches."""
    model = build(name, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n, t0, done = len(images), time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        for idx in batches(n, batch_size, shuffle=True):
            out = model(images[idx], labels[idx] if model.conditional else None)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            opt.step()
            done += len(idx)
            if time.perf_counter() - t0 >= seconds:
                break
    return done / (time.perf_counter() - t0)


def dense_epoch_in_memory(images, batch_size: int) -> float:
    model = build("dense", seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for idx in batches(len(images), batch_size, shuffle=True):
        out = model(images[idx])
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
    return time.perf_counter() - t0


def dense_epoch_dataloader(root: str, batch_size: int) -> float:
    """The textbook loop: torchvision MNIST with a per-sample ToTensor transform through a DataLoader."""
    from torchvision import datasets, transforms

    ds = datasets.MNIST(root, train=True, download=False, transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True)
    model = build("dense", seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for x, _ in loader:
        out = model(x)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    train_data = load("mnist", "train", args.data_dir)
    test = load("mnist", "test", args.data_dir)
    print(f"data: {train_data.source} ({len(train_data):,} train images)")
    print(f"machine: {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    results: dict = {"source": train_data.source, "threads": torch.get_num_threads()}

    cls = VARIANTS["dense"]
    cfg = config_for(cls)
    result = train(build("dense", seed=cfg.seed), train_data, None, cfg)
    mse = float(per_image_mse(reconstruct_all(result.model, test.images), test.images).mean())
    results["dense_default"] = {"train_seconds": result.seconds, "test_mse": mse, "epochs": cfg.epochs,
                                "batch_size": cfg.batch_size, "lr": cfg.lr}
    print(f"aecore train dense (defaults: {cfg.epochs} epochs, batch {cfg.batch_size}, lr {cfg.lr}): "
          f"{result.seconds:.1f} s, test MSE {mse:.5f}")

    results["samples_per_second"] = {}
    for name in VARIANTS:
        sps = samples_per_second(name, train_data.images, train_data.labels)
        results["samples_per_second"][name] = sps
        print(f"  {name:10s} {sps:10,.0f} training samples/s (batch 128)")

    fast = dense_epoch_in_memory(train_data.images, 128)
    line = f"dense epoch, batch 128: in-memory tensors {fast:.2f} s"
    results["dense_epoch_in_memory_s"] = fast
    if train_data.source.startswith("data root"):
        slow = dense_epoch_dataloader(train_data.source.removeprefix("data root "), 128)
        results["dense_epoch_dataloader_s"] = slow
        results["speedup"] = slow / fast
        line += f", torchvision DataLoader {slow:.2f} s, ratio {slow / fast:.1f}x"
    print(line)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["peak_rss_mb"] = peak
    print(f"peak memory (RSS): {peak:.0f} MB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
