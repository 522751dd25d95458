"""One training loop for every variant: Adam, an LR schedule, per-epoch validation, hooks, early stop."""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from aecore import binarize
from aecore.augment import other_writers
from aecore.binarize import BINARIZE
from aecore.config import param, validate
from aecore.data import DATASETS, ImageData, batches
from aecore.device import bf16_is_native, pick_device
from aecore.errors import UserError
from aecore.models import Autoencoder, VAEBase
from aecore.optim import Adam, set_schedule
from aecore.seeding import generator


class TrainingDiverged(UserError, RuntimeError):
    """The loss stopped being a finite number; the message names the likely cause."""


@dataclass
class TrainConfig:
    epochs: int = param(10, "Passes over the training set", min=1, max=1000)
    batch_size: int = param(128, "Images per optimisation step", min=1, max=8192)
    lr: float = param(1e-3, "Peak learning rate of Adam", min=1e-6, max=1.0, log=True)
    schedule: str = param("onecycle", "Learning-rate schedule", choices=("onecycle", "cosine", "constant"))
    weight_decay: float = param(0.0, "Adam weight decay", min=0.0, max=1.0)
    seed: int = param(0, "Random seed (same seed, same run on the same machine)", min=0, max=2**31 - 1)
    train_size: int = param(0, "Train on a class-balanced slice of this many images (0: all)", min=0, max=1_000_000)
    dataset: str = param("mnist", "Dataset to train on", choices=DATASETS)
    binarize: str = param("none", "Binarized pixels, the likelihood papers' protocol: dynamic draws each batch "
                                  "as Bernoulli(grey level) anew, fixed uses one seeded sample; the test split is "
                                  "then a fixed seeded sample (none: grey levels)", choices=BINARIZE)
    augment: float = param(0.0, "Share of each batch seen as other writers would draw it (rotation, slant, size, "
                                "stroke width, low resolution): a model that reads drawings and photos better, "
                                "at some cost on MNIST itself (0: plain MNIST)", min=0.0, max=1.0)
    init_output_bias: bool = param(False, "Start a per-pixel output bias (dense, deep and sparse have one) at the "
                                          "mean training image: a faster start; off to fine-tune a trained model")
    orthogonal_init: bool = param(False, "Start every weight matrix orthogonal and every bias at zero: deep and "
                                         "convolutional models learn faster; off to fine-tune a trained model")
    device: str = param("auto", "auto picks CUDA, then MPS, then CPU", choices=("auto", "cpu", "cuda", "mps"))
    max_seconds: float = param(0.0, "End the run after this many seconds: fewer steps where the machine is slower, "
                                    "the whole learning-rate schedule in that time (0: no limit)", min=0.0, max=86400.0)
    precision: str = param("fp32", "Arithmetic of the forward pass: bf16 is faster where the processor has it "
                                   "(auto: bf16 there, else fp32); weights and the optimiser stay fp32",
                           choices=("fp32", "bf16", "auto"))


@dataclass
class Progress:
    """What the hook receives: after every ``report_every`` steps (kind "step") and each epoch ("epoch")."""

    kind: str
    epoch: int
    step: int
    total_steps: int
    train: dict[str, float]  # running means of the loss terms since the last report
    val: dict[str, float] | None = None  # only on "epoch"
    history: dict | None = None
    model: Autoencoder | None = None
    done: float | None = None  # share of the run done, where a time limit makes it more than step / total_steps

    @property
    def fraction(self) -> float:
        return self.done if self.done is not None else self.step / max(1, self.total_steps)


@dataclass
class TrainResult:
    model: Autoencoder
    history: dict = field(default_factory=dict)
    seconds: float = 0.0
    stopped_early: bool = False


def resolve_precision(cfg: TrainConfig, device: torch.device) -> str:
    if cfg.precision == "auto":
        return "bf16" if bf16_is_native(device) else "fp32"
    return cfg.precision


@torch.no_grad()
def init_output_bias(model: Autoencoder, images: torch.Tensor) -> bool:
    """Set the per-pixel output bias to the logit of the mean image, so training starts from the mean
    digit instead of grey and spends no steps learning it. False when the model has no such bias."""
    bias = model.output_bias()
    if bias is None or bias.numel() != images[0].numel():
        return False
    mean = images.mean(0).flatten().clamp(1e-3, 1 - 1e-3)
    bias.copy_(torch.logit(mean).to(bias))
    return True


@torch.no_grad()
def orthogonal_init(model: Autoencoder, generator: torch.Generator | None = None) -> int:
    """Re-initialise every linear and convolution weight as an orthogonal matrix (gain 1, a convolution's kernel
    flattened per output or, transposed, per input channel) and its bias at zero; returns how many layers.

    torch's default (uniform in +-1/sqrt(fan_in)) shrinks the signal at every ReLU layer, so a deep or
    convolutional model first spends steps growing it back. With rows at right angles and of unit length each
    layer keeps the signal's scale from the start (what it bought the quick presets: docs/tuning.md)."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))]
    for layer in layers:
        # Drawn in a fresh contiguous tensor: a channels-last kernel has no 2-D view to fill in place.
        layer.weight.copy_(nn.init.orthogonal_(torch.empty(layer.weight.shape, dtype=layer.weight.dtype),
                                               generator=generator))
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
    return len(layers)


def _divergence_message(model: Autoencoder, cfg: TrainConfig, epoch: int, step: int) -> str:
    hint = f"the learning rate ({cfg.lr:g}) is probably too high: try {cfg.lr / 10:g}"
    if isinstance(model, VAEBase) and model.config.beta > 10:
        hint += f", or lower beta ({model.config.beta:g})"
    return f"training diverged (loss is not finite) at epoch {epoch}, step {step}: {hint}"


@torch.no_grad()
def loss_terms(model: Autoencoder, data: ImageData, batch_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """Mean loss and loss terms over a dataset (seeded, so VAE and denoising noise is repeatable)."""
    was_training, was_rng = model.training, model.rng
    model.eval()
    device = next(model.parameters()).device
    sums: dict[str, float] = {}
    model.rng = generator(seed, device)
    try:
        for idx in batches(len(data), batch_size, shuffle=False, device=data.images.device):
            x, y = data.images[idx].to(device), data.labels[idx].to(device)
            out = model(x, y)
            for k, v in {"loss": out.loss, **out.terms}.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
    finally:
        model.rng = was_rng
        model.train(was_training)
    return {k: v / len(data) for k, v in sums.items()}


def train(model: Autoencoder, train_data: ImageData, val_data: ImageData | None = None,
          config: TrainConfig | None = None, on_progress: Callable[[Progress], None] | None = None,
          should_stop: Callable[[], bool] | None = None, report_every: int = 50) -> TrainResult:
    """Train ``model`` in place and return it with its history.

    ``on_progress`` is called every ``report_every`` steps and after each epoch; ``should_stop``
    is polled every step, and a True answer ends training after the current step with a usable
    model. A non-finite loss raises :class:`TrainingDiverged` and restores the last good weights.
    Every random draw (orthogonal start, shuffling, a model's noise) comes from generators seeded with the
    config's seed, never from torch's global RNG, so other threads cannot change the run.
    """
    try:
        return _train(model, train_data, val_data, config or TrainConfig(), on_progress, should_stop, report_every)
    finally:
        model.rng = None  # the run's generator is not the model's: later draws are the caller's again


def _train(model: Autoencoder, train_data: ImageData, val_data: ImageData | None, cfg: TrainConfig,
           on_progress: Callable[[Progress], None] | None, should_stop: Callable[[], bool] | None,
           report_every: int) -> TrainResult:
    validate(cfg)
    device = pick_device(cfg.device)
    # The draws the global RNG gave after torch.manual_seed(seed): the orthogonal start, then on the CPU the
    # model's noise from the same stream; on a GPU its noise from the device's own stream.
    rng = generator(cfg.seed)
    precision = resolve_precision(cfg, device)
    autocast = (lambda: torch.autocast(device.type, torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext
    if cfg.orthogonal_init:  # before the output bias, which it zeroes
        orthogonal_init(model, rng)
    # Channels-last convolutions are faster in oneDNN, on the CPU most of all; the layout is undone before return,
    # so saved weights stay contiguous. It changes nothing for a model without convolutions.
    layout = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    model.to(device, memory_format=layout).train()
    data = binarize.protocol(train_data, cfg.binarize).subset(cfg.train_size or None, seed=cfg.seed).to(device)
    val = binarize.protocol(val_data, cfg.binarize).to(device) if val_data is not None else None
    gen = generator(cfg.seed)  # the shuffling's own
    model.rng = rng if device.type == "cpu" else generator(cfg.seed, device)
    if cfg.init_output_bias:
        init_output_bias(model, data.images)
    steps_per_epoch = math.ceil(len(data) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    # The fused kernel updates all parameters in one call: fewer, larger operations per step on the CPU.
    opt = Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=device.type in ("cpu", "cuda"))
    set_schedule(opt, cfg, 0.0)
    model.set_progress(0.0)
    history: dict = {"epochs": [], "steps": []}
    good_state = copy.deepcopy(model.state_dict())
    step, stopped, out_of_time, t0 = 0, False, False, time.perf_counter()
    epoch_end = 0.0  # seconds the last epoch's end took (validation, weight copy, hooks)
    running: dict[str, float] = {}
    n_running = 0
    for epoch in range(1, cfg.epochs + 1):
        epoch_sums: dict[str, float] = {}
        n_epoch = 0
        for idx in batches(len(data), cfg.batch_size, shuffle=True, generator=gen, device=device):
            x = data.images[idx]
            if cfg.augment:  # the target is the varied digit itself: the model learns to reproduce such digits
                x = other_writers(x, gen, clean=1.0 - cfg.augment)
            if cfg.binarize == "dynamic":  # a fresh binary draw of this batch, from the run's generator
                x = binarize.sample(x, model.rng)
            with autocast():  # only conditional models read labels: no gather for the others
                out = model(x, data.labels[idx] if model.conditional else None)
            loss = out.loss.item()
            if not math.isfinite(loss):
                model.load_state_dict(good_state)
                raise TrainingDiverged(_divergence_message(model, cfg, epoch, step))
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            opt.step()
            step += 1
            # Progress is the share of steps done or, under a time limit, of the time used if that is further
            # along: a limited run follows the whole schedule in its time, however fast this machine is.
            progress = step / total
            if cfg.max_seconds:  # done when two more steps (one may be slow) and the epoch's end would pass it
                elapsed = time.perf_counter() - t0
                progress = max(progress, (elapsed + 2 * elapsed / step + epoch_end) / cfg.max_seconds)
                out_of_time = progress >= 1 and step < total
            set_schedule(opt, cfg, progress)
            model.set_progress(min(1.0, progress))
            terms = {"loss": loss, **{k: v.item() for k, v in out.terms.items()}}
            for k, v in terms.items():
                running[k] = running.get(k, 0.0) + v
                epoch_sums[k] = epoch_sums.get(k, 0.0) + v
            n_running += 1
            n_epoch += 1
            if step % report_every == 0 or step == total or out_of_time:
                means = {k: v / n_running for k, v in running.items()}
                history["steps"].append({"step": step, **means})
                running, n_running = {}, 0
                if on_progress:
                    on_progress(Progress("step", epoch, step, total, means, done=min(1.0, progress)))
            if should_stop and should_stop():
                stopped = True
                break
            if out_of_time:  # the time limit ends the run, mid-epoch or not, with the schedule annealed
                break
        end_started = time.perf_counter()
        record = {"epoch": epoch, "step": step, "lr": opt.param_groups[0]["lr"],
                  "seconds": time.perf_counter() - t0,
                  "train": {k: v / max(1, n_epoch) for k, v in epoch_sums.items()}}
        if val is not None:
            record["val"] = loss_terms(model, val, seed=epoch)
            if not math.isfinite(record["val"]["loss"]):
                model.load_state_dict(good_state)
                raise TrainingDiverged(_divergence_message(model, cfg, epoch, step))
        history["epochs"].append(record)
        good_state = copy.deepcopy(model.state_dict())
        if on_progress:
            on_progress(Progress("epoch", epoch, step, total, record["train"], record.get("val"), history, model,
                                 done=min(1.0, progress)))
        epoch_end = time.perf_counter() - end_started
        if stopped or out_of_time:
            break
    model.set_progress(1.0)  # the run is over, stopped early or not: a scheduled objective is back in full
    model.to(memory_format=torch.contiguous_format).eval()
    history.update(train_size=len(data), train_source=data.source, precision=precision, out_of_time=out_of_time)
    return TrainResult(model, history, time.perf_counter() - t0, stopped)


def config_for(variant_cls, **overrides) -> TrainConfig:
    """The variant's preferred training settings, then ``overrides`` (None values ignored)."""
    from aecore.config import from_dict

    given = {k: v for k, v in overrides.items() if v is not None}
    return from_dict(TrainConfig, {**variant_cls.train_defaults, **given})


QUICK_SECONDS = 60.0  # the quick presets' time limit: what a presenter waits for in front of a room
PRESETS = {"default": "the variant's defaults", "quick": "quick: about a minute of training",
           "recipe": "the shipped model's recipe"}


def preset(variant_cls, name: str = "default", **overrides) -> tuple[dict, TrainConfig]:
    """(model settings, TrainConfig) of a named preset (:data:`PRESETS`), then ``overrides`` of the
    training settings (None values ignored): the one place the CLI, the Train page and pretrain get them."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}")
    model_cfg, train_cfg = {"default": ({}, {}), "quick": variant_cls.quick, "recipe": variant_cls.recipe}[name]
    if name == "quick":  # a minute wherever it runs: on a slower machine fewer steps, never a longer wait
        train_cfg = {"max_seconds": QUICK_SECONDS, **train_cfg}
    given = {k: v for k, v in overrides.items() if v is not None}
    return dict(model_cfg), config_for(variant_cls, **{**train_cfg, **given})
