"""Write assets/onnx/: the browser's ONNX form (aecore.onnx_export) of every shipped model and of the reference
classifier, so the Draw page runs them in the browser from the first visit.

X

A retrained model has another sha256, so its old export is simply never found; delete stale files by hand.
``aecore pretrain`` writes the same files into its --out-dir/onnx.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aecore import onnx_export  # noqa: E402
from aecore.pretrain import export_for_browser  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", type=Path, default=REPO / "assets" / "models")
    ap.add_argument("--out", type=Path, default=onnx_export.cache_dir())
    args = ap.parse_args(argv)
    t = time.perf_counter()
    written = export_for_browser(args.models_dir, args.out)
    total = sum(p.stat().st_size for p in args.out.glob("*.onnx.gz"))
    print(f"{len(written)} written in {time.perf_counter() - t:.0f} s; {args.out} holds {total / 1e6:.1f} MB",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
