"""What recording the training evolution (aecore.evolution) costs: the same runs with and without it.

    python bench/bench_evolution.py [--data-dir ../shared/data] [--repeats 3] [--json docs/bench_evolution.json]

Trains `dense` with the Train page's defaults (its default preset on a 5,000-image slice, validated on 2,000
test digits, as a TrainingJob does), `conv` briefly (the same slice, 2 epochs) and `conv` long (all 60,000
training images, 3 epochs), alternating runs without and with a Recorder, and prints one JSON object. Two
figures per variant, since a shared machine moves wall times by more than the cost measured: ``extra_wall``
(fastest recorded run / fastest plain run - 1, from creating the Recorder, which maps the untrained model, to
the end of training) and ``extra_frames`` (the seconds spent making frames / the fastest plain run), which
load moves far less. Fastest, not median: other work only ever adds time. Target: <= 10%.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from aecore import build, data, evolution
from aecore.models import VARIANTS
from aecore.storage import write_atomic
from aecore.training import preset, train

TARGET = 0.10
RUNS = {"dense": ("dense", {"train_size": 5000}), "conv": ("conv", {"train_size": 5000, "epochs": 2}),
        "conv_long": ("conv", {"train_size": 0, "epochs": 3})}


class TimedRecorder(evolution.Recorder):
    """A Recorder that adds up the seconds its frames take."""

    seconds = 0.0

    def add(self, model):
        t0 = time.perf_counter()
        try:
            return super().add(model)
        finally:
            self.seconds += time.perf_counter() - t0


def one_run(name: str, train_data, val, test, record: bool) -> tuple[float, float]:
    """(seconds from the Recorder's start to the end of training, seconds spent on frames)."""
    variant, settings = RUNS[name]
    model_cfg, cfg = preset(VARIANTS[variant], "default", device="cpu", **settings)
    model = build(variant, model_cfg, seed=cfg.seed)
    t0 = time.perf_counter()
    rec = TimedRecorder(model, test) if record else None
    train(model, train_data, val, cfg, on_progress=rec)
    return time.perf_counter() - t0, rec.seconds if rec else 0.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="*", help=f"runs, some of {', '.join(RUNS)} (default: all)")
    ap.add_argument("--data-dir")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args(argv)
    if set(args.variants) - set(RUNS):
        ap.error(f"unknown run: choose from {', '.join(RUNS)}")
    train_data, test = data.load("mnist", "train", args.data_dir), data.load("mnist", "test", args.data_dir)
    val = test.subset(2000, seed=1)  # what a TrainingJob validates on
    load_before = os.getloadavg()
    rows = []
    for name in args.variants or RUNS:
        plain, recorded, frames = [], [], []
        for _ in range(args.repeats):  # alternating, so a change in the machine's load hits both alike
            plain.append(one_run(name, train_data, val, test, False)[0])
            seconds, spent = one_run(name, train_data, val, test, True)
            recorded.append(seconds)
            frames.append(spent)
        base = min(plain)
        rows.append({"run": name, "variant": RUNS[name][0], **RUNS[name][1], "plain_s": plain, "recorded_s": recorded,
                     "frame_s": frames, "extra_wall": min(recorded) / base - 1, "extra_frames": min(frames) / base,
                     "met": min(frames) / base <= TARGET})
        print(f"{name}: {rows[-1]['extra_wall']:+.1%} wall, {rows[-1]['extra_frames']:.1%} in frames", file=sys.stderr)
    result = {"target": TARGET, "rows": rows, "train_source": train_data.source, "threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    text = json.dumps(result)
    if args.json:
        write_atomic(args.json, (text + "\n").encode())
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
