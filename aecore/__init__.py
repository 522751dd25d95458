"""aecore: autoencoders for MNIST-like images, one contract for every variant.

    from aecore import build, train, TrainConfig, data, checkpoint
    model = build("dense")
    result = train(model, data.load("mnist", "train"), data.load("mnist", "test"), TrainConfig(epochs=5))
    checkpoint.save(result.model, "dense.safetensors")
"""

__version__ = "0.2.0"

from aecore.config import ConfigError, field_specs  # noqa: E402
from aecore.models import VARIANTS, AEOutput, Autoencoder, build, get_variant  # noqa: E402
from aecore.train import TrainConfig, TrainingDiverged, train  # noqa: E402

__all__ = ["VARIANTS", "AEOutput", "Autoencoder", "ConfigError", "TrainConfig", "TrainingDiverged",
           "build", "field_specs", "get_variant", "train", "__version__"]
