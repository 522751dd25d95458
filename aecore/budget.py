"""A server's budget for one training run, and the estimate a run is checked against before it starts.

The app trains inside its server process, for anyone on the network: settings that are each in range can still
need gigabytes per step (vq_vae, codebook 4096, 256 channels, batches of 8,192) or train for days (500 epochs of
batches of 1). :class:`Budget` caps a run's peak memory and its duration; :class:`aecore.jobs.TrainingJob` (the
app's way to train) refuses a run over it before anything trains, and stops one that overruns its time. The CLI
has no budget.

How a run is estimated (:func:`estimate`, milliseconds for these models):

- peak memory: weights and buffers, gradients, Adam's two moments and the last good copy of the weights, counted
  from the parameters; plus every tensor a real forward and backward pass creates (activations, temporaries such
  as a codebook's distance matrix), tracked while alive after each operation at batches of 2 and 4 on the CPU and
  extrapolated operation by operation to the batch size, or to the batches of 1,000 that validation uses,
  whichever needs more. The training data are not counted (the same for every setting).
- duration, at least: steps times the operations of one step (counted in the same pass) times 3 us, a third of
  what a step costs per operation on a 2-core server at batch 1. Counting cannot be fooled by a busy machine,
  where timing can: on a 2-core server a neighbour's work slowed timed steps 10 to 200 times. So a run is refused
  only when it could not fit even at that pace; one that is slower than estimated is stopped at the time limit.
- duration, timed (``timed=True``, for showing, never for refusing): a few steps of train() on a copy of the model
  on the training device at batches of 1 and 32, fitted linearly in the batch, plus each epoch's validation at
  the cost of training on as many images; within about a third of real runs on an idle server.

A run on all data counts the full split (60,000 images) whatever this server has; a run with its own time limit
(``max_seconds``) takes at most that.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import time
from dataclasses import dataclass

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from aecore.config import ConfigError

ENV_MB, ENV_MINUTES = "AECORE_TRAIN_MAX_MB", "AECORE_TRAIN_MAX_MINUTES"
FULL_TRAIN_SPLIT = 60_000  # images in the MNIST and Fashion-MNIST train splits
EVAL_BATCH = 1000  # the batches validation and measuring run (train.loss_terms, aecore.metrics)
EPOCH_END_IMAGES = 3000  # validated (2,000) and mapped for the live evolution (1,000) after every epoch
TIMING_BATCH = 32  # the larger batch the timing probe runs; others are fitted linearly from it and a batch of 1
SECONDS_PER_OP = 3e-6  # the least a training step's operation costs (dispatch, autograd, kernel), on any device
MB = 2**20


class BudgetExceeded(ConfigError):
    """A training run would need more memory or time than this server allows: the message gives the estimate,
    the limit and the environment variable that sets it."""


def _env_limit(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"${name} = {text!r} is not a limit: set a number (0 for none) or unset it")
    return value


@dataclass(frozen=True)
class Budget:
    """Limits of one training run on this server; 0 means no limit."""

    max_mb: float = 1500.0  # peak memory of the run, in MiB
    max_minutes: float = 30.0  # training time of the run

    @classmethod
    def from_env(cls) -> Budget:
        """The defaults, or ``$AECORE_TRAIN_MAX_MB`` and ``$AECORE_TRAIN_MAX_MINUTES`` (ConfigError if malformed)."""
        return cls(_env_limit(ENV_MB, cls.max_mb), _env_limit(ENV_MINUTES, cls.max_minutes))


@dataclass
class Estimate:
    peak_mb: float  # peak memory of the run
    min_seconds: float  # the least time it can take (the budget's test)
    steps: int
    images: int  # trained on (the full split when it uses all data)
    seconds: float | None = None  # timed: what it takes on this server now (None: not timed)

    def describe(self) -> str:
        """E.g. "about 230 MB of memory, at least 2 min (about 5 min here)"."""
        timed = "" if self.seconds is None else f" (about {duration(self.seconds)} here)"
        return f"about {self.peak_mb:,.0f} MB of memory, at least {duration(self.min_seconds)}{timed}"


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} hours" if seconds < 172800 else f"{seconds / 86400:.0f} days"


class _LiveBytes(TorchDispatchMode):
    """Tracks the bytes of the tensors created under it while they are alive, after every operation (this thread
    only)."""

    def __init__(self, outside: set[int]):
        super().__init__()
        self.outside = outside  # storages that existed before (weights, data): not counted
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.now = 0
        self.trace: list[int] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        for key, (ref, size) in list(self.live.items()):
            if ref.expired():
                del self.live[key]
                self.now -= size
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                ref = StorageWeakRef(storage)
                if ref.cdata not in self.outside and ref.cdata not in self.live:
                    self.live[ref.cdata] = (ref, storage.nbytes())
                    self.now += storage.nbytes()
        self.trace.append(self.now)
        return out


def _step_bytes(model, images: torch.Tensor, labels: torch.Tensor, batch: int, training: bool) -> list[int]:
    """Bytes of the tensors one step (forward and backward, or a forward alone) has created and still holds,
    after each of its operations, at ``batch``."""
    model.train(training)
    tensors = (*model.parameters(), *model.buffers(), *(p.grad for p in model.parameters()), images, labels)
    outside = {StorageWeakRef(t.untyped_storage()).cdata for t in tensors if t is not None}
    with torch.set_grad_enabled(training), _LiveBytes(outside) as tracker:
        idx = torch.arange(batch)
        out = model(images[idx], labels[idx] if model.conditional else None)
        if training:
            out.loss.backward()
        del out
    return tracker.trace


def peak_memory_mb(model, batch_size: int) -> float:
    """Estimated peak memory of training ``model`` with batches of ``batch_size`` (see the module docstring)."""
    return _measure(model, batch_size)[0]


def _measure(model, batch_size: int) -> tuple[float, int]:
    """(peak memory in MB, operations of one training step)."""
    probe = copy.deepcopy(model).cpu()
    gen = torch.Generator().manual_seed(0)
    images, labels = torch.rand((4, 1, 28, 28), generator=gen), torch.arange(4) % 10
    for p in probe.parameters():  # gradients exist between steps: counted below, not as a step's new tensors
        p.grad = torch.zeros_like(p)
    _step_bytes(probe, images, labels, 2, True)  # a first step may differ (a codebook starts from its inputs)

    def at(batch: int, training: bool) -> tuple[float, int]:
        # The peak is the largest of many moments' memory, each growing at its own rate with the batch (a layer's
        # fixed-size weight gradient is largest at batch 2, activations at 8,192): fitted moment by moment.
        two, four = (_step_bytes(probe, images, labels, b, training) for b in (2, 4))
        ops = len(four)
        if len(two) != len(four):  # a data-dependent step (another codebook restart): the peaks alone
            two, four = [max(two)], [max(four)]
        return max(a + (b - a) / 2 * (batch - 2) for a, b in zip(two, four, strict=True)), ops

    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    kept = 5 * weights + 2 * buffers  # weights, gradients, Adam's two moments, the last good copy; buffers twice
    training, ops = at(batch_size, True)
    return (kept + max(training, at(EVAL_BATCH, False)[0])) / MB, ops


def _step_seconds_at(model, cfg, batch: int, steps: int = 4) -> float:
    """Seconds of one step of train() at ``batch``: the fastest of a few, after the first (which sets up)."""
    from aecore.data import ImageData
    from aecore.training import train

    n = batch * steps
    gen = torch.Generator().manual_seed(0)
    data = ImageData(torch.rand((n, 1, 28, 28), generator=gen), torch.arange(n) % 10, cfg.dataset, "train",
                     "timing probe")
    stamps: list[float] = []
    probe_cfg = dataclasses.replace(cfg, epochs=1, batch_size=batch, train_size=0, max_seconds=0.0)
    train(copy.deepcopy(model), data, None, probe_cfg, report_every=1,
          on_progress=lambda p: p.kind == "step" and stamps.append(time.perf_counter()))
    return min(b - a for a, b in zip(stamps, stamps[1:], strict=False))


def train_images(cfg) -> int:
    """How many images a run is counted for: its slice, else the full train split."""
    return min(cfg.train_size or FULL_TRAIN_SPLIT, FULL_TRAIN_SPLIT)


def timed_seconds(model, cfg) -> float:
    """How long training ``model`` with TrainConfig ``cfg`` takes on this server now, from a few timed steps."""
    one = _step_seconds_at(model, cfg, 1)
    per_image = max(0.0, (_step_seconds_at(model, cfg, TIMING_BATCH) - one) / (TIMING_BATCH - 1))
    steps = cfg.epochs * math.ceil(train_images(cfg) / cfg.batch_size)
    seconds = steps * (one + per_image * (cfg.batch_size - 1)) + cfg.epochs * EPOCH_END_IMAGES * per_image
    return min(seconds, cfg.max_seconds + EPOCH_END_IMAGES * per_image) if cfg.max_seconds else seconds


def estimate(model, cfg, timed: bool = False) -> Estimate:
    """Peak memory and least duration of training ``model`` with TrainConfig ``cfg`` (see the module docstring);
    ``timed`` adds what it takes on this server now (a few steps of train(), tenths of a second)."""
    images = train_images(cfg)
    steps = cfg.epochs * math.ceil(images / cfg.batch_size)
    peak_mb, ops = _measure(model, cfg.batch_size)
    least = steps * ops * SECONDS_PER_OP
    if cfg.max_seconds:  # the run ends by itself then
        least = min(least, cfg.max_seconds)
    return Estimate(peak_mb, least, steps, images, timed_seconds(model, cfg) if timed else None)


def check(model, cfg, budget: Budget) -> Estimate:
    """The run's estimate, or :class:`BudgetExceeded` (one line: the estimate, the limit, the variable that sets
    it, what to change) if it is over ``budget``."""
    est = estimate(model, cfg)
    if budget.max_mb and est.peak_mb > budget.max_mb:
        raise BudgetExceeded(f"this run would need about {est.peak_mb:,.0f} MB of memory, over this server's limit "
                             f"of {budget.max_mb:,.0f} MB per run (${ENV_MB} sets it): use smaller batches than "
                             f"{cfg.batch_size:,} or a smaller model")
    limit = budget.max_minutes * 60
    if limit and est.min_seconds > limit:
        raise BudgetExceeded(f"this run would train for at least {duration(est.min_seconds)} ({est.steps:,} steps on "
                             f"up to {est.images:,} images), over this server's limit of {duration(limit)} per run "
                             f"(${ENV_MINUTES} sets it): train fewer epochs, on a slice (train_size), in larger "
                             f"batches, or set max_seconds to {limit:.0f} or less")
    return est
