"""How long anomaly scores take: every score for the 10,000 test images of each shipped model, computed
from nothing (the cache is bypassed), and the PNG lengths they share (computed once per image set).

    python bench/bench_anomaly.py [--data-dir ../shared/data]     # docs/bench_anomaly.json

Target (issue 11): at most 5 s per model for 10,000 images on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from aecore import anomaly, catalog, data
from aecore.storage import write_atomic

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "bench_anomaly.json")
    args = ap.parse_args(argv)
    tests, rows = {}, []
    for entry in (e for e in catalog.list_models() if e.source == "pretrained"):
        if entry.dataset not in tests:
            test = data.load(entry.dataset, "test", args.data_dir)
            t0 = time.perf_counter()
            bits = anomaly.png_bits(test.images)
            tests[entry.dataset] = (test, bits, time.perf_counter() - t0)
        test, bits, png_seconds = tests[entry.dataset]
        model = catalog.load(entry)[0]
        t0 = time.perf_counter()
        anomaly.compute_scores(model, test.images, complexity=bits)
        seconds = time.perf_counter() - t0
        rows.append({"model": entry.name, "seconds": seconds, "png_seconds": png_seconds})
        print(f"{entry.name:32s} {seconds:6.2f} s for {len(test):,} images (+ {png_seconds:.2f} s of PNG lengths "
              "once per image set)", flush=True)
    machine = f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    write_atomic(args.out, json.dumps({"machine": machine, "rows": rows}, indent=1).encode())
    return 0 if all(r["seconds"] <= 5 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
