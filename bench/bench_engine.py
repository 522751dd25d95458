"""aecore's fixed costs and its peer: each measured as a user meets it, as a whole command in a new process.

    python bench/bench_engine.py [--data-dir ../shared/data] [--keras-python bench/.venv-keras/bin/python]
                                 [--json docs/bench_engine.json]

Measures `aecore --help` and `aecore variants` (median of 3), both MNIST splits into memory (the first
load with an empty user cache, then the second), `aecore eval dense` (a shipped model, every metric),
`aecore train dense --json` with its defaults (whole command, its training seconds and test MSE), and
right after it the peer: the Keras autoencoder tutorial (bench/keras_peer.py: 784-64-784, Adam, MSE,
7 epochs of batch 32) on the same IDX files, its fit and its whole script. It prints the ratios against
the targets of issue 10 and the machine's load average before and after, since a busy machine moves
every figure.

The peer needs TensorFlow, which aecore never installs: it runs in a virtual environment of its own,

    python3 -m venv bench/.venv-keras && bench/.venv-keras/bin/pip install tensorflow-cpu

(git-ignored; about 1.6 GB). Without it the peer is skipped and said so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TARGETS = {"help_s": 1.0, "data_second_s": 0.5, "eval_dense_s": 3.0, "whole_ratio": 0.3, "train_ratio": 0.2,
           "test_mse": 0.0038}
# Both splits into memory, in a fresh process with torch already imported (its import is not the data's).
LOAD_SPLITS = """
import sys, time, torch
from aecore import data
t = time.perf_counter()
train, test = data.load("mnist", "train", sys.argv[1]), data.load("mnist", "test", sys.argv[1])
print(time.perf_counter() - t, train.source)
"""


def aecore_cmd() -> list[str]:
    script = Path(sys.executable).parent / "aecore"
    return [str(script)] if script.exists() else [sys.executable, "-m", "aecore"]


def timed(cmd: list[str], env: dict | None = None, cwd=None) -> tuple[float, str]:
    """Wall seconds of a whole command, from before its process starts; its stdout. Fails loudly."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=os.environ.get("AECORE_DATA_DIR") or str(BENCH.parent.parent / "shared/data"))
    p.add_argument("--keras-python", default=str(BENCH / ".venv-keras" / "bin" / "python"))
    p.add_argument("--json", default=str(BENCH.parent / "docs" / "bench_engine.json"))
    args = p.parse_args()
    aecore, env = aecore_cmd(), {"AECORE_DATA_DIR": args.data_dir}
    r: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "load_before": os.getloadavg()[0]}
    print(f"machine: {r['machine']}, load average {r['load_before']:.1f}; data root {args.data_dir}")

    r["help_s"] = statistics.median(timed([*aecore, "--help"])[0] for _ in range(3))
    r["variants_s"] = statistics.median(timed([*aecore, "variants"])[0] for _ in range(3))
    print(f"aecore --help {r['help_s']:.2f} s, aecore variants {r['variants_s']:.2f} s "
          f"(target ≤ {TARGETS['help_s']} s)")

    with tempfile.TemporaryDirectory() as tmp:
        fresh = {"AECORE_CACHE_DIR": str(Path(tmp) / "cache")}  # the first load meets an empty user cache
        loads = [timed([sys.executable, "-c", LOAD_SPLITS, args.data_dir], fresh)[1].split(maxsplit=1)
                 for _ in range(2)]
        r["data_first_s"], r["data_second_s"] = (float(seconds) for seconds, _ in loads)
        r["data_source"] = loads[0][1].strip()
        print(f"both MNIST splits into memory: first {r['data_first_s']:.2f} s, second {r['data_second_s']:.2f} s "
              f"(target ≤ {TARGETS['data_second_s']} s; {r['data_source']})")

        r["eval_dense_s"], out = timed([*aecore, "eval", "dense", "--json"], env)
        r["eval_dense_metrics"] = last_json(out)
        print(f"aecore eval dense: {r['eval_dense_s']:.1f} s (target ≤ {TARGETS['eval_dense_s']} s)")

        out_file = str(Path(tmp) / "dense.safetensors")
        seconds, out = timed([*aecore, "train", "dense", "--json", "--quiet", "--out", out_file], env)
        trained = last_json(out)
        r["aecore_train"] = {"whole_s": seconds, "train_s": trained["train_seconds"], "test_mse": trained["test_mse"]}
        print(f"aecore train dense: whole command {seconds:.1f} s, training {trained['train_seconds']:.1f} s, "
              f"test MSE {trained['test_mse']:.5f}")

    if not Path(args.keras_python).exists():
        print(f"peer skipped: no {args.keras_python} (see this script's docstring to make it)")
    else:
        seconds, out = timed([args.keras_python, str(BENCH / "keras_peer.py"), args.data_dir],
                             {"TF_CPP_MIN_LOG_LEVEL": "2"})
        peer = last_json(out)
        r["keras"] = {"whole_s": seconds, "fit_s": peer["fit_seconds"], "test_mse": peer["test_mse"],
                      "version": peer["keras"]}
        print(f"Keras tutorial: whole script {seconds:.1f} s, fit {peer['fit_seconds']:.1f} s, "
              f"test MSE {peer['test_mse']:.5f}")
        a, k = r["aecore_train"], r["keras"]
        r["whole_ratio"], r["train_ratio"] = a["whole_s"] / k["whole_s"], a["train_s"] / k["fit_s"]
        print(f"aecore / Keras: whole {r['whole_ratio']:.2f}x (target ≤ {TARGETS['whole_ratio']}x), "
              f"training {r['train_ratio']:.2f}x (target ≤ {TARGETS['train_ratio']}x); "
              f"test MSE {a['test_mse']:.5f} vs {k['test_mse']:.5f} (target ≤ {TARGETS['test_mse']})")
    r["load_after"] = os.getloadavg()[0]
    r["targets"] = TARGETS
    print(f"load average after: {r['load_after']:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
