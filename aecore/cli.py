"""The ``aecore`` command line. Every failure ends with one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from aecore import data, storage
from aecore.config import ConfigError, to_dict
from aecore.models import VARIANTS, UnknownVariant, build, description, get_variant, metric_of

# Modules that import torch (two seconds) are imported by the commands that need them, so `--help`,
# `variants` and `data` answer at once.


def expected_errors() -> tuple[type[BaseException], ...]:
    """The errors that end a command with one line. Looked up when one is raised, among the modules
    imported by then (one never imported cannot have raised), so naming them imports nothing."""
    found = [ConfigError, data.DataUnavailable, UnknownVariant, ValueError, OSError]
    for module, name in (("aecore.checkpoint", "CheckpointError"), ("aecore.train", "TrainingDiverged")):
        if hasattr(sys.modules.get(module), name):
            found.append(getattr(sys.modules[module], name))
    return tuple(found)


def _progress_hook(bar: tqdm):
    def hook(p):
        bar.total = p.total_steps
        bar.n = p.step
        if p.kind == "epoch" and p.val:
            bar.set_postfix({"epoch": p.epoch, "val_loss": f"{p.val['loss']:.4g}"})
        bar.refresh()
    return hook


def _load_splits(dataset: str, data_dir):
    return data.load(dataset, "train", data_dir), data.load(dataset, "test", data_dir)


def _classifier_or_none(dataset: str):
    from aecore.classifier import CLASSIFIER_PATH, load_classifier

    return load_classifier() if dataset == "mnist" and CLASSIFIER_PATH.exists() else None


def cmd_variants(args):
    for name in VARIANTS:
        print(f"{name:10s} {description(name)}")


def cmd_data(args):
    if args.download:
        with tqdm(total=1.0, desc=f"downloading {args.dataset}", file=sys.stderr,
                  bar_format="{desc}: {percentage:3.0f}% {elapsed}") as bar:
            def show(fraction, message):
                bar.n = fraction
                bar.set_description(message)

            folder = data.download_dataset(args.dataset, args.data_dir, timeout=args.timeout, on_progress=show)
        print(f"{args.dataset} is in {folder}", file=sys.stderr)
    print(f"data root: {storage.data_root(args.data_dir)}")
    for row in data.sources(args.data_dir):
        print(f"{'found  ' if row['found'] else 'missing'} {row['dataset']:14s} {row['source']:15s} {row['path']}")


def _evaluate(model, test, train_data, dataset: str) -> dict:
    from aecore.metrics import evaluate

    with tqdm(total=None, desc="evaluating", file=sys.stderr, bar_format="{desc}: {elapsed}") as bar:
        return evaluate(model, test, train_data, _classifier_or_none(dataset),
                        on_stage=lambda name: bar.set_description(f"evaluating: {name}"))


def _optimisers_need_no_dynamo() -> None:
    """torch.optim marks some optimiser methods "never compile" through torch._disable_dynamo, whose first
    call imports all of torch._dynamo to do so: 1.3 s of every training command here (aecore.train.Adam skips
    the other such import, in its step). This command never compiles, so the mark is set directly, on the
    methods that have one on this torch; in a notebook or the app, torch's own path is left alone."""
    import torch

    marker = getattr(getattr(torch, "_compile", None), "_disable_dynamo", None)
    if marker is None:
        return
    code = marker(lambda: None).__code__
    for fn in vars(torch.optim.Optimizer).values():
        original = getattr(fn, "__wrapped__", None)
        if getattr(fn, "__code__", None) is code and original is not None:
            setattr(original, "__dynamo_disable", original)  # what torch._dynamo.disable would have cached


def cmd_train(args):
    from aecore import checkpoint, evolution
    from aecore.train import preset, train

    _optimisers_need_no_dynamo()

    cls = get_variant(args.variant)
    model_cfg, cfg = preset(cls, "quick" if args.quick else "default", epochs=args.epochs,
                            batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device,
                            dataset=args.dataset, train_size=args.train_size, precision=args.precision,
                            max_seconds=args.max_seconds)
    if args.latent_dim is not None:
        model_cfg["latent_dim"] = args.latent_dim
    if args.beta is not None:
        if not hasattr(cls.config_class, "beta"):
            raise ConfigError(f"--beta applies to the VAE variants, not {args.variant}")
        model_cfg["beta"] = args.beta
    model = build(args.variant, model_cfg, seed=cfg.seed)
    train_data, test = _load_splits(args.dataset, args.data_dir)
    print(f"training {args.variant} on {train_data.source}: {len(train_data):,} images", file=sys.stderr)
    with tqdm(total=1, desc=args.variant, unit="step", file=sys.stderr, disable=args.quiet) as bar:
        hook = _progress_hook(bar)
        recorder = evolution.Recorder(model, test, then=hook) if args.evolution else None
        result = train(model, train_data, test, cfg, on_progress=recorder or hook)
    model.cpu()
    if args.fast_eval:
        from aecore.metrics import per_image_mse, reconstruct_all

        recon = reconstruct_all(model, test.images, test.labels)
        metrics = {"test_mse": float(per_image_mse(recon, test.images).mean())}
    else:
        metrics = _evaluate(model, test, train_data, args.dataset)
    metrics.update(train_seconds=result.seconds, epochs=len(result.history["epochs"]))
    out = Path(args.out or f"{args.variant}.safetensors")
    checkpoint.save(model, out, recorder.tensors() if recorder else None, train_config=to_dict(cfg),
                    dataset=args.dataset, data_source=train_data.source, history=result.history, metrics=metrics)
    metrics["checkpoint"] = str(out)
    print(f"saved {out}: test MSE {metrics['test_mse']:.5f} after {result.seconds:.1f} s of training", file=sys.stderr)
    if args.json:
        print(json.dumps(metrics))


def _checkpoint_path(text: str) -> Path:
    """A file path, or the name of a shipped model (``aecore eval dense``)."""
    path = Path(text).expanduser()
    shipped = storage.pretrained_dir() / f"{text}.safetensors"
    return shipped if not path.exists() and "/" not in text and shipped.is_file() else path


def cmd_eval(args):
    from aecore import checkpoint

    path = _checkpoint_path(args.checkpoint)
    model, meta = checkpoint.load(path)
    dataset = meta.get("dataset", "mnist")
    train_data, test = _load_splits(dataset, args.data_dir)
    metrics = _evaluate(model, test, train_data, dataset)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(f"{path}: {meta['variant']} trained on {dataset}")
        for key, value in metrics.items():
            metric = metric_of(key)
            print(f"  {metric.label:22s} {metric.text(value):>14}   {metric.help}")


def cmd_ood(args):
    from aecore import anomaly, checkpoint, ood
    from aecore.catalog import file_sha256

    path = _checkpoint_path(args.checkpoint)
    model, meta = checkpoint.load(path)
    dataset = meta.get("dataset", "mnist")
    against = ood.parse_sets(args.against, dataset) if args.against else None
    with tqdm(total=None, desc="scoring", file=sys.stderr, bar_format="{desc}: {elapsed}"):
        result = anomaly.evaluate_ood(model, file_sha256(path), dataset, against, args.k or anomaly.K_SAMPLES,
                                      args.data_dir)
    if args.json:
        print(json.dumps({"checkpoint": str(path), "variant": meta["variant"], "dataset": dataset,
                          "in_distribution": result["source"], "rows": result["rows"]}))
        return
    print(f"{path}: {meta['variant']} trained on {dataset}; in-distribution: {result['source']}")
    print(f"  {'OOD set':14s} {'score':16s} {'AUROC':>7s} {'FPR95':>7s}")
    for row in result["rows"]:
        print(f"  {row['set']:14s} {row['score']:16s} {row['auroc']:7.4f} {row['fpr95']:7.2%}")


def cmd_pretrain(args):
    from aecore import pretrain
    from aecore.metrics import evaluate

    _optimisers_need_no_dynamo()

    train_data, test = _load_splits(args.dataset, args.data_dir)
    if train_data.source.startswith("bundled"):
        raise data.DataUnavailable(f"pretrain needs the full {pretrain.DATASET_TITLES[args.dataset]}, found only "
                                   f"the {train_data.source}: "
                                   "pass --data-dir or set AECORE_DATA_DIR")
    out_dir = Path(args.out_dir) if args.out_dir else storage.cache_root() / "pretrained"
    clf = None
    if args.dataset == "mnist":
        clf = pretrain.ensure_classifier(train_data, test, out_dir, log=lambda s: print(s, file=sys.stderr))
    names = [] if args.card_only else args.variants
    for name in names:
        with tqdm(total=1, desc=f"pretrain {name}", unit="step", file=sys.stderr) as bar:
            path, metrics = pretrain.pretrain_one(name, train_data, test, out_dir, _progress_hook(bar),
                                                  lambda m: evaluate(m, test, train_data, clf))
        print(f"{name}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, float)),
              file=sys.stderr)
    pretrain.write_card(out_dir, args.data_dir)
    print(f"wrote {out_dir / 'README.md'}", file=sys.stderr)


def _variant_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown variant {', '.join(unknown) or '(none)'}: choose from "
                                         + ", ".join(VARIANTS))
    return names


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (not the usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="aecore", description="Train, evaluate and ship MNIST autoencoders.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="dataset root (default: $AECORE_DATA_DIR, else ~/.cache/aecore/data)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    sub.add_parser("variants", help="list the model variants").set_defaults(fn=cmd_variants)
    d = sub.add_parser("data", parents=[common], help="show which dataset files are found; --download fetches one")
    d.add_argument("--download", action="store_true", help="download the dataset into the data root")
    d.add_argument("--dataset", default="mnist", choices=data.DATASETS, help="with --download (default: mnist)")
    d.add_argument("--timeout", type=float,
                   help=f"seconds to wait on a silent mirror (default {data.DOWNLOAD_TIMEOUT:g})")
    d.set_defaults(fn=cmd_data)
    t = sub.add_parser("train", parents=[common], help="train one variant and save it")
    t.add_argument("variant", choices=list(VARIANTS), metavar="VARIANT", help=", ".join(VARIANTS))
    t.add_argument("--epochs", type=int)
    t.add_argument("--latent-dim", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--beta", type=float, help="KL weight (VAE variants)")
    t.add_argument("--dataset", default="mnist", choices=data.DATASETS)
    t.add_argument("--train-size", type=int, help="train on a class-balanced slice of this many images")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    t.add_argument("--precision", choices=("fp32", "bf16", "auto"),
                   help="forward pass in bf16 (faster where the processor has it; auto: only there)")
    t.add_argument("--out", help="checkpoint path (default: VARIANT.safetensors in the current folder)")
    t.add_argument("--max-seconds", type=float,
                   help="fit the run into this many seconds here (fewer steps on a slower machine; --quick: 60)")
    t.add_argument("--quick", action="store_true",
                   help="the variant's quick preset: near the shipped model's quality in about a minute")
    t.add_argument("--fast-eval", action="store_true", help="report test MSE only (skip kNN and the rest)")
    t.add_argument("--json", action="store_true", help="end with one JSON line of the final metrics")
    t.add_argument("--evolution", action="store_true",
                   help="keep a map of 1,000 test digits per epoch in the checkpoint (the Train page replays it)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(fn=cmd_train)
    e = sub.add_parser("eval", parents=[common], help="evaluate a checkpoint on the test split")
    e.add_argument("checkpoint", help="a checkpoint file, or the name of a shipped model (e.g. dense)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(fn=cmd_eval)
    o = sub.add_parser("ood", parents=[common], help="out-of-distribution detection: AUROC of each anomaly score")
    o.add_argument("checkpoint", help="a checkpoint file, or the name of a shipped model (e.g. vae)")
    o.add_argument("--against", help="comma-separated OOD sets (default: the other dataset, noise, inverted)")
    o.add_argument("--k", type=int, help="importance samples per image for -log p(x) (default: 4)")
    o.add_argument("--json", action="store_true", help="one JSON line: a row per OOD set and score")
    o.set_defaults(fn=cmd_ood)
    pt = sub.add_parser("pretrain", parents=[common], help="train every shipped model again (needs full MNIST)")
    pt.add_argument("--variants", type=_variant_list, default=list(VARIANTS),
                    help="comma-separated subset (default: all)")
    pt.add_argument("--dataset", default="mnist", choices=data.DATASETS,
                    help="train on this dataset; other than MNIST, files are named <dataset>_<variant>")
    pt.add_argument("--card-only", action="store_true", help="only rewrite the model card from the files")
    pt.add_argument("--out-dir", help="where the checkpoints and card go (default: ~/.cache/aecore/pretrained; "
                    "a checkout's assets/models to replace the shipped ones)")
    pt.set_defaults(fn=cmd_pretrain)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except UnknownVariant as e:  # a usage error, like argparse's own
        print(f"aecore: error: {e}", file=sys.stderr)
        return 2
    except expected_errors() as e:
        print(f"aecore: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aecore: interrupted", file=sys.stderr)
        return 130
    return 0


def run() -> int:
    """The ``aecore`` command: :func:`main`, then a quicker exit. The interpreter's last garbage collections
    walk every object torch created (0.4 s a command); frozen, they are skipped. Not in :func:`main`, which
    tests and scripts call in a process that goes on."""
    import gc

    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(run())
