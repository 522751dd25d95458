"""aecore: autoencoders for MNIST-like images, one contract for every variant.

    from aecore import build, train, TrainConfig, data, checkpoint
    model = build("dense")
    result = train(model, data.load("mnist", "train"), data.load("mnist", "test"), TrainConfig(epochs=5))
    checkpoint.save(result.model, "dense.safetensors")
"""

import importlib

__version__ = "0.2.0"


from aecore.config import ConfigError, field_specs  # noqa: E402
from aecore.models import VARIANTS, build, get_variant  # noqa: E402

# These import torch (two seconds): loaded on first use, so `aecore --help` answers at once.
_LAZY = {"AEOutput": "aecore.models", "Autoencoder": "aecore.models", "TrainConfig": "aecore.training",
         "TrainingDiverged": "aecore.training", "train": "aecore.training"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'aecore' has no attribute {name!r}")
    value = globals()[name] = getattr(importlib.import_module(_LAZY[name]), name)
    return value


__all__ = ["VARIANTS", "AEOutput", "Autoencoder", "ConfigError", "TrainConfig", "TrainingDiverged",
           "build", "field_specs", "get_variant", "train", "__version__"]
