"""The one way a model is made: fit, evaluate, and pack it as a checkpoint with the same metadata, whoever
asks (``aecore train``, ``aecore pretrain``, the app's training jobs). Only where the bytes go differs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aecore import checkpoint
from aecore.config import to_dict
from aecore.data import ImageData
from aecore.training import TrainConfig, TrainResult, train


@dataclass
class Made:
    result: TrainResult  # the trained model (on the CPU), its history and time
    metrics: dict
    checkpoint: bytes  # ready to write: weights, settings, history, metrics and any evolution frames


def fit_and_pack(model, train_data: ImageData, test: ImageData, cfg: TrainConfig,
                 measure: Callable[[object], dict], *, recorder=None, on_progress: Callable | None = None,
                 should_stop: Callable[[], bool] | None = None, report_every: int | None = None) -> Made:
    """Train ``model`` (validating on ``test``), measure it with ``measure(model)``, and pack the checkpoint.

    ``recorder`` (an :class:`aecore.evolution.Recorder`) keeps a map of its codes per epoch in the checkpoint;
    the caller calls it from ``on_progress`` when it wants the frames live."""
    kwargs = {"report_every": report_every} if report_every else {}
    result = train(model, train_data, test, cfg, on_progress=on_progress, should_stop=should_stop, **kwargs)
    result.model.cpu()  # trained where it was fastest; measured and saved from here
    metrics = dict(measure(result.model))
    metrics.update(train_seconds=result.seconds, epochs=len(result.history.get("epochs", [])),
                   stopped_early=result.stopped_early)
    data = checkpoint.to_bytes(result.model, recorder.tensors() if recorder else None, train_config=to_dict(cfg),
                               dataset=cfg.dataset, data_source=train_data.source, history=result.history,
                               metrics=metrics)
    return Made(result, metrics, data)
