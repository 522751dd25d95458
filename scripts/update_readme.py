"""Copy the model card's table (assets/models/README.md, written by `aecore pretrain`) into README.md,
between the markers <!-- model-table --> and <!-- /model-table -->, so the two never disagree.

    python scripts/update_readme.py          # rewrite README.md
    python scripts/update_readme.py --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- model-table -->\n).*?(<!-- /model-table -->)", re.S)


def card_table(card: str) -> str:
    """The card's tables (one per dataset), each headed by its dataset in bold."""
    lines = card.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## "))
    end = next(i for i, line in enumerate(lines) if line.startswith("Variant-specific"))
    body = [(f"**Trained on {line[3:]}**" if line[3:] in ("MNIST", "Fashion-MNIST") else f"**{line[3:]}**")
            if line.startswith("## ") else line for line in lines[start:end]]
    return "\n".join(body).strip() + "\n"


def updated(readme: str, card: str) -> str:
    if not BLOCK.search(readme):
        raise SystemExit("README.md has no <!-- model-table --> ... <!-- /model-table --> block")
    return BLOCK.sub(lambda m: m.group(1) + card_table(card) + m.group(2), readme)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    readme_path = REPO / "README.md"
    readme, card = readme_path.read_text(), (REPO / "assets" / "models" / "README.md").read_text()
    new = updated(readme, card)
    if args.check:
        return 0 if new == readme else 1
    readme_path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
