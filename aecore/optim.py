"""The optimiser and the learning-rate schedule: torch's Adam with a shorter way to its fused kernel, and the
schedules as functions of the run's progress (so a run limited by time follows the same curve)."""

from __future__ import annotations

import math

import torch


class Adam(torch.optim.Adam):
    """torch's Adam with a shorter way to its fused kernel.

    Each step goes straight to ``torch._fused_adam_`` with torch's own state (the same tensors, the same
    update, a test checks equal weights) once the state exists, when the settings are the plain ones (fused,
    no amsgrad, maximize, capturable or differentiable, no GradScaler; every parameter on one device in one
    dtype). torch's
    general step spends about 45 us of Python per call on checks and regrouping, 4% of a ``dense`` step;
    otherwise, and on the first step, the general one runs. Either way it skips the wrapper that imports all of
    torch._dynamo on the first step (seconds of a short command) to mark a graph break, which matters only
    under torch.compile, never used here."""

    _step = getattr(torch.optim.Adam.step, "__wrapped__", None)

    def _lean_groups(self) -> list[tuple[dict, list]] | None:
        """Per group (settings, [params, grads, exp_avgs, exp_avg_sqs, steps]) for the direct call, or None."""
        if getattr(self, "grad_scale", None) is not None or getattr(self, "found_inf", None) is not None:
            return None  # a GradScaler's unscaling and inf-skipping: torch's step passes them to the kernel
        out = []
        for group in self.param_groups:
            if not group.get("fused") or group["amsgrad"] or group["maximize"] or group["capturable"] \
                    or group["differentiable"] or group.get("decoupled_weight_decay") \
                    or isinstance(group["lr"], torch.Tensor):
                return None
            params = [p for p in group["params"] if p.grad is not None]
            states = [self.state.get(p) for p in params]
            if not all(states) or len({(p.device, p.dtype) for p in params}) > 1:
                return None
            out.append((group, [params, [p.grad for p in params], [s["exp_avg"] for s in states],
                                [s["exp_avg_sq"] for s in states], [s["step"] for s in states]]))
        return out

    @torch.no_grad()
    def step(self, closure=None):
        groups = self._lean_groups() if closure is None else None
        if groups is None:
            return super().step(closure) if self._step is None else self._step(closure)
        for group, (params, grads, exp_avgs, exp_avg_sqs, steps) in groups:
            if params:
                torch._foreach_add_(steps, 1)
                torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False,
                                   lr=group["lr"], beta1=group["betas"][0], beta2=group["betas"][1],
                                   weight_decay=group["weight_decay"], eps=group["eps"], maximize=False)
        return None


ONE_CYCLE = {"warmup": 0.15, "start_div": 25.0, "final_div": 1e4, "beta1": (0.95, 0.85)}  # torch's OneCycleLR


def _cos(start: float, end: float, fraction: float) -> float:
    return end + (start - end) / 2 * (1 + math.cos(math.pi * min(1.0, fraction)))


def schedule_at(cfg, progress: float) -> tuple[float, float | None]:
    """(learning rate, Adam's beta1 or None to leave it) at ``progress`` in [0, 1] of the run. One-cycle is
    torch's OneCycleLR as a function of progress (cosine warm-up from lr/25 over 15%, cosine decay to lr/25e4,
    beta1 cycled 0.95 -> 0.85 -> 0.95), so a run limited by time follows the same curve as one counted in steps."""
    if cfg.schedule == "cosine":
        return _cos(cfg.lr, 0.0, progress), None
    if cfg.schedule == "constant":
        return cfg.lr, None
    warm, (high, low) = ONE_CYCLE["warmup"], ONE_CYCLE["beta1"]
    start = cfg.lr / ONE_CYCLE["start_div"]
    if progress < warm:
        return _cos(start, cfg.lr, progress / warm), _cos(high, low, progress / warm)
    rest = (progress - warm) / (1 - warm)
    return _cos(cfg.lr, start / ONE_CYCLE["final_div"], rest), _cos(low, high, rest)


def set_schedule(opt, cfg, progress: float) -> None:
    """Set the optimiser's learning rate (and one-cycle's beta1) for ``progress`` of the run."""
    lr, beta1 = schedule_at(cfg, progress)
    for group in opt.param_groups:
        group["lr"] = lr
        if beta1 is not None:
            group["betas"] = (beta1, group["betas"][1])
