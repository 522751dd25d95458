"""What each ``aecore`` command does (the parser and the exit codes live in :mod:`aecore.cli`).

Modules that import torch (two seconds) are imported by the commands that need them, so `--help`,
`variants` and `data` answer at once."""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path

from tqdm import tqdm

from aecore import binarize, data, storage
from aecore.config import ConfigError
from aecore.models import VARIANTS, build, description, get_variant, metric_of


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
    call imports all of torch._dynamo to do so: most of a short training command's start-up (aecore.optim.Adam skips
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
    from aecore import evolution
    from aecore.pipeline import fit_and_pack
    from aecore.training import preset

    _optimisers_need_no_dynamo()

    cls = get_variant(args.variant)
    if args.minutes is not None and args.max_seconds is not None:
        raise ConfigError("give --minutes or --max-seconds, not both")
    seconds = args.minutes * 60 if args.minutes is not None else args.max_seconds
    model_cfg, cfg = preset(cls, "quick" if args.quick else "default", epochs=args.epochs,
                            batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device,
                            dataset=args.dataset, train_size=args.train_size, precision=args.precision,
                            max_seconds=seconds, binarize=args.binarize, schedule=args.schedule,
                            augment=args.augment)
    model_cfg.update(dict(args.set))
    for flag, key, value in (("--latent-dim", "latent_dim", args.latent_dim), ("--beta", "beta", args.beta),
                             ("--iwae-k", "iwae_k", args.iwae_k)):
        if value is not None:
            if key not in {f.name for f in fields(cls.config_class)}:
                raise ConfigError(f"{flag} does not apply to {args.variant}")
            model_cfg[key] = value
    model = build(args.variant, model_cfg, seed=cfg.seed)
    train_data, test = _load_splits(args.dataset, args.data_dir)
    test = binarize.protocol(test, cfg.binarize)
    print(f"training {args.variant} on {train_data.source}: {len(train_data):,} images", file=sys.stderr)
    def measure(trained):
        if not args.fast_eval:
            return _evaluate(trained, test, train_data, args.dataset)
        from aecore.metrics import per_image_mse, reconstruct_all

        return {"test_mse": float(per_image_mse(reconstruct_all(trained, test.images, test.labels),
                                                test.images).mean())}

    with tqdm(total=1, desc=args.variant, unit="step", file=sys.stderr, disable=args.quiet) as bar:
        hook = _progress_hook(bar)
        recorder = evolution.Recorder(model, test, then=hook) if args.evolution else None
        made = fit_and_pack(model, train_data, test, cfg, measure, recorder=recorder, on_progress=recorder or hook)
    out = storage.write_atomic(Path(args.out or f"{args.variant}.safetensors"), made.checkpoint)
    metrics = {**made.metrics, "checkpoint": str(out)}
    print(f"saved {out}: test MSE {metrics['test_mse']:.5f} after {made.result.seconds:.1f} s of training",
          file=sys.stderr)
    if args.json:
        print(json.dumps(metrics))


def _checkpoint_path(text: str) -> Path:
    """A file path, or the name of a shipped model (``aecore eval dense``)."""
    path = Path(text).expanduser()
    shipped = storage.pretrained_dir() / f"{text}.safetensors"
    return shipped if not path.exists() and "/" not in text and shipped.is_file() else path


def _nll(model, test, args) -> dict:
    from aecore.likelihood import importance_nll

    with tqdm(total=1.0, desc=f"-log p(x), K={args.nll_k}", file=sys.stderr, bar_format="{desc}: "
              "{percentage:3.0f}% {elapsed}<{remaining}") as bar:
        def show(fraction):
            bar.n = fraction
            bar.refresh()

        return importance_nll(model, test, args.nll_k, seed=args.seed, on_progress=show)


def cmd_eval(args):
    from aecore import checkpoint
    from aecore.likelihood import MAX_K

    if args.nll_k is not None and not 1 <= args.nll_k <= MAX_K:
        raise ConfigError(f"--nll-k {args.nll_k} is out of range: allowed 1 to {MAX_K:,} (5000: the papers')")
    path = _checkpoint_path(args.checkpoint)
    model, meta = checkpoint.load(path)
    if args.nll_k is not None and not model.has_likelihood:
        raise ConfigError(f"--nll-k needs a model with a likelihood (a VAE variant); {meta['variant']} has none")
    dataset = meta.get("dataset", "mnist")
    protocol = (meta.get("train_config") or {}).get("binarize", "none")
    train_data, test = _load_splits(dataset, args.data_dir)
    test = binarize.protocol(test, protocol)  # scored as it was trained: a binarized model on binarized digits
    if args.nll_k is not None:
        result = {"checkpoint": str(path), "variant": meta["variant"], "binarize": protocol,
                  "test_source": test.source, **_nll(model, test, args)}
        print(json.dumps(result) if args.json else
              f"{path}: -log p(x) = {result['nll']:.2f} ± {result['nll_se']:.2f} nats (K={result['k']} importance "
              f"samples, {result['n']:,} test digits, binarize={protocol}; -ELBO {result['neg_elbo']:.2f}; "
              f"{result['seconds']:.0f} s)")
        return
    metrics = _evaluate(model, test, train_data, dataset)
    if args.json:
        print(json.dumps(metrics))
    else:
        shown = "" if protocol == "none" else f", binarize={protocol}"
        print(f"{path}: {meta['variant']} trained on {dataset}{shown}")
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
    pretrain.export_for_browser(out_dir, log=lambda s: print(s, file=sys.stderr))
