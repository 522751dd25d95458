"""The IWAE reproduction table (docs/reproduction.md): Burda et al. 2016, Table 1, beside aecore's two reference
models, each scored with K = 5000 importance samples on the fixed binarized test split. Unattended:

    AECORE_DATA_DIR=../shared/data python scripts/reproduce_iwae.py --ship   # copy runs/*.safetensors in, then score
    python scripts/reproduce_iwae.py                                         # score the shipped ones again

writes docs/reproduction.json and docs/reproduction.md, the README's block between <!-- reproduction --> and
<!-- /reproduction -->, and the model card's section (assets/models/reproduction.json and README.md). About
10 minutes per model on a quiet 2-core CPU at K = 5000; --k 100 for a quick look (not the table's figure).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aecore import reproduction, storage  # noqa: E402
from aecore.errors import UserError  # noqa: E402

BLOCK = re.compile(r"(<!-- reproduction -->\n).*?(<!-- /reproduction -->)", re.S)


def markdown(rows: list[dict], machine: str) -> str:
    return (f"{reproduction.table(rows)}\n{reproduction.PROTOCOL} Evaluated on {machine}; "
            f"`python scripts/reproduce_iwae.py` measures it again.\n")


def replace_block(path: Path, body: str) -> None:
    text = path.read_text()
    if not BLOCK.search(text):
        raise SystemExit(f"{path} has no <!-- reproduction --> ... <!-- /reproduction --> block")
    storage.write_atomic(path, BLOCK.sub(lambda m: m.group(1) + body + m.group(2), text).encode())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ship", action="store_true", help="first copy the runs' checkpoints into assets/models")
    ap.add_argument("--runs", default=str(REPO / "runs"), help="where --ship finds them (default: runs/)")
    ap.add_argument("--k", type=int, default=5000, help="importance samples per test digit (default 5000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir")
    ap.add_argument("--models", default=",".join(reproduction.MODELS))
    args = ap.parse_args(argv)
    import torch

    from aecore.catalog import file_sha256

    shipped = REPO / "assets" / "models"
    names = [n for n in args.models.split(",") if n]
    before = REPO / "docs" / "reproduction.json"  # a row measured on the same file the same way is kept
    known = {r.get("sha256"): r for r in (json.loads(before.read_text())["rows"] if before.exists() else [])}
    rows = []
    try:
        for name in names:
            if args.ship:
                source = Path(args.runs) / f"{name}.safetensors"
                if not source.exists():
                    raise UserError(f"{source} is missing: has scripts/train_iwae_reference.sh finished?")
                shutil.copyfile(source, shipped / source.name)
            path = shipped / f"{name}.safetensors"
            if not path.exists():
                raise UserError(f"{path} is missing: run with --ship once the training runs have finished")
            t0, sha = time.perf_counter(), file_sha256(path)
            old = known.get(sha)
            if old and (old["eval_k"], old["eval_seed"]) == (args.k, args.seed):
                rows.append(old)
                continue
            shown = [0]

            def report(fraction, name=name, t0=t0, shown=shown):
                if fraction >= shown[0] + 0.05 or fraction == 1:
                    shown[0] = fraction
                    print(f"{name}: {fraction:.0%} after {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

            rows.append({**reproduction.measure(path, args.k, args.seed, args.data_dir, report), "sha256": sha})
            print(f"{name}: -log p(x) = {rows[-1]['nll']:.2f} ± {rows[-1]['nll_se']:.2f} nats, -ELBO "
                  f"{rows[-1]['neg_elbo']:.2f} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    except UserError as e:
        print(f"reproduce_iwae: error: {e}", file=sys.stderr)
        return 1
    machine = f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    result = {"reference": reproduction.REFERENCE, "paper": reproduction.PAPER,
              "paper_epochs": reproduction.PAPER_EPOCHS, "rows": rows, "protocol": reproduction.PROTOCOL,
              "machine": machine}
    text = json.dumps(result, indent=1) + "\n"
    storage.write_atomic(REPO / "docs" / "reproduction.json", text.encode())
    storage.write_atomic(shipped / "reproduction.json", text.encode())  # the model card's section reads it
    body = markdown(rows, machine)
    storage.write_atomic(REPO / "docs" / "reproduction.md",
                         ("# Reproducing the IWAE paper's likelihoods\n\n<!-- reproduction -->\n" + body
                          + "<!-- /reproduction -->\n").encode())
    for target in (REPO / "README.md", shipped / "README.md"):
        replace_block(target, body)
    print("wrote docs/reproduction.json, docs/reproduction.md, README.md and the model card", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
