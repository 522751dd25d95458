"""Write assets/projections/ for every pretrained model (its 2-D maps, per-image reconstruction errors and
anomaly scores of the test split and the OOD sets), so its first latent map and Anomalies page are instant.

    python scripts/precompute_projections.py                 # UMAP and PCA for every model
    python scripts/precompute_projections.py --methods tsne --models dense vae

Keys are the same as the app's cache (model file sha256 + dataset + method + settings), so a
retrained model simply misses and gets computed in the app. Files are float16: 40 kB a map, 20 kB of errors.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aecore import anomaly, catalog, data, projection  # noqa: E402
from aecore.metrics import encode_all  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=["umap", "pca"], choices=projection.METHODS,
                    help="default: umap pca (t-SNE of 10,000 points takes minutes a model; the app makes it on demand)")
    ap.add_argument("--models", nargs="*", help="variant names (default: every model in assets/models)")
    ap.add_argument("--models-dir", type=Path, default=REPO / "assets" / "models")
    ap.add_argument("--out", type=Path, default=REPO / "assets" / "projections")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    paths = sorted(args.models_dir.glob("*.safetensors"))
    if args.models:
        paths = [p for p in paths if p.stem in args.models]
    if not paths:
        print(f"no models in {args.models_dir}", file=sys.stderr)
        return 1
    tests: dict[str, data.ImageData] = {}
    wanted = set()
    for path in paths:
        entry = catalog.describe(path, "pretrained")
        if entry.error:
            print(f"skip {path.name}: {entry.error}", file=sys.stderr)
            continue
        model, _ = catalog.load(path)
        if entry.dataset not in tests:
            tests[entry.dataset] = data.load(entry.dataset, "test", args.data_dir)
        test = tests[entry.dataset]
        dkey = projection.data_key(test)
        errors = projection.errors_name(entry.sha256, dkey)
        wanted.add(f"{errors}.npz")
        projection.reconstruction_errors(model, entry.sha256, test, dkey, folder=args.out)
        t0 = time.perf_counter()
        scored = anomaly.evaluate_ood(model, entry.sha256, entry.dataset, data_dir=args.data_dir, folder=args.out)
        wanted.update(f"{name}.npz" for name in scored["entries"])
        print(f"{path.stem:10s} anomaly scores {time.perf_counter() - t0:6.1f} s ({scored['where']})")
        codes = encode_all(model, test).numpy()
        for method in projection.METHODS:
            s = projection.settings_for(method, n=len(codes))
            key = projection.map_name(entry.sha256, dkey, method, s)
            wanted.add(f"{key}.npz")  # every method's file of a current model is kept
            if method not in args.methods:
                continue
            if (args.out / f"{key}.npz").exists():
                print(f"{path.stem:10s} {method:5s} already there")
                continue
            t0 = time.perf_counter()
            coords = projection.reduce(codes, method, s)
            projection.store(key, coords, folder=args.out, method=method, settings=s, dataset=dkey,
                             model=entry.sha256, model_file=path.name)
            print(f"{path.stem:10s} {method:5s} {time.perf_counter() - t0:6.1f} s -> {key}.npz")
    stale = [p for p in args.out.glob("*.npz") if p.name not in wanted] if not args.models else []
    for p in stale:  # projections of models that were retrained since
        p.unlink()
        print(f"removed stale {p.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
