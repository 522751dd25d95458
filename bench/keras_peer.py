"""The peer of `aecore train dense`: the Keras autoencoder tutorial, as written, on the same MNIST files.

    bench/.venv-keras/bin/python bench/keras_peer.py DATA_ROOT

Runs in its own virtual environment with tensorflow-cpu (see bench/bench_engine.py); reads the IDX files
under DATA_ROOT/MNIST/raw (no download) and ends with one JSON line: the fit's seconds and the test MSE.
The whole script's wall time is measured by the caller, from before Python starts.
"""

import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np


def read_idx(folder: Path, name: str) -> np.ndarray:
    path = folder / name if (folder / name).exists() else folder / f"{name}.gz"
    data = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    raw = Path(sys.argv[1]) / "MNIST" / "raw"
    import keras
    from keras import layers

    x_train = read_idx(raw, "train-images-idx3-ubyte").astype("float32").reshape(-1, 784) / 255.0
    x_test = read_idx(raw, "t10k-images-idx3-ubyte").astype("float32").reshape(-1, 784) / 255.0

    autoencoder = keras.Sequential([keras.Input((784,)), layers.Dense(64, activation="relu"),
                                    layers.Dense(784, activation="sigmoid")])
    autoencoder.compile(optimizer="adam", loss="mse")
    t0 = time.perf_counter()
    autoencoder.fit(x_train, x_train, epochs=7, batch_size=32, shuffle=True, validation_data=(x_test, x_test))
    fit_seconds = time.perf_counter() - t0
    test_mse = float(autoencoder.evaluate(x_test, x_test, verbose=0))
    print(json.dumps({"fit_seconds": fit_seconds, "test_mse": test_mse, "keras": keras.__version__}))


if __name__ == "__main__":
    main()
