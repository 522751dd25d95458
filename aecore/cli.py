"""The ``aecore`` command line. Every failure ends with one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import sys

from aecore import commands, data
from aecore.binarize import BINARIZE
from aecore.errors import UserError
from aecore.models import VARIANTS, UnknownVariant


def _variant_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown variant {', '.join(unknown) or '(none)'}: choose from "
                                         + ", ".join(VARIANTS))
    return names


def _setting(text: str) -> tuple[str, object]:
    """NAME=VALUE, the value read as a whole number, a number, true/false or else a word."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    value = value.strip()
    for cast in (int, float):
        try:
            return name.strip(), cast(value)
        except ValueError:
            pass
    return name.strip(), {"true": True, "false": False}.get(value.lower(), value)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (not the usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="aecore", description="Train, evaluate and ship MNIST autoencoders.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="dataset root (default: $AECORE_DATA_DIR, else ~/.cache/aecore/data)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    sub.add_parser("variants", help="list the model variants").set_defaults(fn=commands.cmd_variants)
    d = sub.add_parser("data", parents=[common], help="show which dataset files are found; --download fetches one")
    d.add_argument("--download", action="store_true", help="download the dataset into the data root")
    d.add_argument("--dataset", default="mnist", choices=data.DATASETS, help="with --download (default: mnist)")
    d.add_argument("--timeout", type=float,
                   help=f"seconds to wait on a silent mirror (default {data.DOWNLOAD_TIMEOUT:g})")
    d.set_defaults(fn=commands.cmd_data)
    t = sub.add_parser("train", parents=[common], help="train one variant and save it")
    t.add_argument("variant", choices=list(VARIANTS), metavar="VARIANT", help=", ".join(VARIANTS))
    t.add_argument("--epochs", type=int)
    t.add_argument("--latent-dim", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--beta", type=float, help="KL weight (VAE variants)")
    t.add_argument("--dataset", default="mnist", choices=data.DATASETS)
    t.add_argument("--binarize", choices=BINARIZE,
                   help="binarized pixels (the likelihood papers' protocol): dynamic redraws each batch, fixed is one "
                        "seeded sample; the test split is then a fixed seeded sample (default: none, grey levels)")
    t.add_argument("--iwae-k", type=int, help="importance samples of the VAE objective (1: ELBO; more: IWAE)")
    t.add_argument("--augment", type=float, help="share of each batch seen as other writers would draw it "
                   "(rotation, slant, size, stroke width, low resolution; default 0: plain digits)")
    t.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", type=_setting,
                   help="any model setting, e.g. --set hidden1=200 --set activation=tanh (repeatable)")
    t.add_argument("--schedule", choices=("onecycle", "cosine", "constant"), help="learning-rate schedule")
    t.add_argument("--train-size", type=int, help="train on a class-balanced slice of this many images")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    t.add_argument("--precision", choices=("fp32", "bf16", "auto"),
                   help="forward pass in bf16 (faster where the processor has it; auto: only there)")
    t.add_argument("--out", help="checkpoint path (default: VARIANT.safetensors in the current folder)")
    t.add_argument("--max-seconds", type=float,
                   help="fit the run into this many seconds here (fewer steps on a slower machine; --quick: 60)")
    t.add_argument("--minutes", type=float, help="the same limit in minutes: the schedule anneals within it and "
                   "the run ends cleanly, saved, when it is up")
    t.add_argument("--quick", action="store_true",
                   help="the variant's quick preset: near the shipped model's quality in about a minute")
    t.add_argument("--fast-eval", action="store_true", help="report test MSE only (skip kNN and the rest)")
    t.add_argument("--json", action="store_true", help="end with one JSON line of the final metrics")
    t.add_argument("--evolution", action="store_true",
                   help="keep a map of 1,000 test digits per epoch in the checkpoint (the Train page replays it)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(fn=commands.cmd_train)
    e = sub.add_parser("eval", parents=[common], help="evaluate a checkpoint on the test split")
    e.add_argument("checkpoint", help="a checkpoint file, or the name of a shipped model (e.g. dense)")
    e.add_argument("--json", action="store_true")
    e.add_argument("--nll-k", type=int, metavar="K",
                   help="only the importance-sampled test NLL with K samples per digit, and its standard error "
                        "(5000: the papers' estimate; VAE variants)")
    e.add_argument("--seed", type=int, default=0, help="with --nll-k: the seed of the importance samples")
    e.set_defaults(fn=commands.cmd_eval)
    o = sub.add_parser("ood", parents=[common], help="out-of-distribution detection: AUROC of each anomaly score")
    o.add_argument("checkpoint", help="a checkpoint file, or the name of a shipped model (e.g. vae)")
    o.add_argument("--against", help="comma-separated OOD sets (default: the other dataset, noise, inverted)")
    o.add_argument("--k", type=int, help="importance samples per image for -log p(x) (default: 4)")
    o.add_argument("--json", action="store_true", help="one JSON line: a row per OOD set and score")
    o.set_defaults(fn=commands.cmd_ood)
    pt = sub.add_parser("pretrain", parents=[common], help="train every shipped model again (needs full MNIST)")
    pt.add_argument("--variants", type=_variant_list, default=list(VARIANTS),
                    help="comma-separated subset (default: all)")
    pt.add_argument("--dataset", default="mnist", choices=data.DATASETS,
                    help="train on this dataset; other than MNIST, files are named <dataset>_<variant>")
    pt.add_argument("--card-only", action="store_true", help="only rewrite the model card from the files")
    pt.add_argument("--out-dir", help="where the checkpoints and card go (default: ~/.cache/aecore/pretrained; "
                    "a checkout's assets/models to replace the shipped ones)")
    pt.set_defaults(fn=commands.cmd_pretrain)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except UnknownVariant as e:  # a usage error, like argparse's own
        print(f"aecore: error: {e}", file=sys.stderr)
        return 2
    except (UserError, OSError) as e:
        print(f"aecore: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aecore: interrupted", file=sys.stderr)
        return 130
    return 0


def run() -> int:
    """The ``aecore`` command: :func:`main`, then a quicker exit. The interpreter's last garbage collections
    walk every object torch created (a noticeable part of a short command); frozen, they are skipped. Not in
    :func:`main`, which tests and scripts call in a process that goes on."""
    import gc

    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(run())
