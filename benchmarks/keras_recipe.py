"""The anchor: Keras's "Simple MNIST convnet" recipe, as a user would copy and run it.

Two conv layers (32 and 64, 3×3, ReLU) with 2×2 max pooling, dropout 0.5, a softmax layer;
Adam, batch 128, 15 epochs, 10% validation split, categorical cross-entropy. The data is read
from the same IDX files convcli uses (this machine cannot download). Like train_probe.py, it
prints the test accuracy after every epoch with seconds since the parent started it.
``RECIPE_STOP_AT=0.99`` ends the run after the first epoch reaching that test accuracy (the time to
99% is all the one-epoch comparison needs).
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import time
from pathlib import Path

T0 = float(os.environ.get("BENCH_T0", time.time()))
STOP_AT = float(os.environ.get("RECIPE_STOP_AT", "2"))  # above any accuracy: run every epoch
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


def idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main() -> None:
    base = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["CONVCLI_DATA_DIR"])
    if not (base / "train-images-idx3-ubyte.gz").exists():
        base = base / "mnist"  # the datasets folder rather than the MNIST one
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    x_train = idx(base / "train-images-idx3-ubyte.gz").astype("float32")[..., None] / 255
    y_train = keras.utils.to_categorical(idx(base / "train-labels-idx1-ubyte.gz"), 10)
    x_test = idx(base / "t10k-images-idx3-ubyte.gz").astype("float32")[..., None] / 255
    y_test = keras.utils.to_categorical(idx(base / "t10k-labels-idx1-ubyte.gz"), 10)

    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

    class Probe(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            pause = time.time()
            accuracy = float(self.model.evaluate(x_test, y_test, verbose=0, batch_size=1024)[1])
            print(
                json.dumps(
                    {
                        "epoch": epoch + 1,
                        "test_accuracy": accuracy,
                        "t": pause - T0,
                        "eval_seconds": time.time() - pause,
                    }
                ),
                flush=True,
            )
            if accuracy >= STOP_AT:
                self.model.stop_training = True

    model.fit(x_train, y_train, batch_size=128, epochs=epochs, validation_split=0.1, verbose=0, callbacks=[Probe()])
    accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])
    print(json.dumps({"final_test_accuracy": accuracy, "t": time.time() - T0}), flush=True)


if __name__ == "__main__":
    main()
