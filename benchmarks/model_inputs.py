"""``predict`` and ``evaluate`` on the same files, and models convcli did not train.

Three measurements from the issue, each on material built the way a student makes it:

- a folder of optdigits-like scans (MNIST *test* digits fit to 32×32, counted in 4×4 blocks,
  shown at 64×64 dark on white): ``evaluate MODEL --data DIR`` against ``predict`` on its files;
- Fashion-MNIST's first test pictures saved as PNGs: ``predict`` against ``evaluate`` on the same
  pictures, with a model trained here (softmax, 1 epoch, 6,000 pictures);
- a plain Keras model with ``Rescaling(1/255)`` inside, trained on 0–255 pixels (1 epoch, 10,000
  pictures): ``evaluate`` against Keras's own ``model.evaluate``.

    convcli train cnn --epochs 2 --limit 20000 --seed 0 -o /tmp/cnn.keras
    python benchmarks/model_inputs.py /tmp/cnn.keras --work /tmp/inputs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def scans(model: str, work: Path, per_class: int) -> None:
    """evaluate --data on a folder of scans against predict on its files."""
    from PIL import Image
    from ruled_sheets import optdigit

    from convcli.datasets.idx import load_dataset
    from convcli.jobs import evaluate_file
    from convcli.prediction.predict import predict_files

    data = load_dataset("mnist")
    root = work / "scans"
    files, truth = [], []
    for digit in range(10):
        (root / str(digit)).mkdir(parents=True, exist_ok=True)
        for k in np.nonzero(data.y_test == digit)[0][:per_class]:
            path = root / str(digit) / f"{k}.png"
            Image.fromarray(255 - optdigit(data.x_test[k])).save(path)
            files.append(str(path))
            truth.append(digit)
    evaluated = evaluate_file(model, data=root).result.accuracy
    predicted = np.array([r.prediction for r in predict_files(model, files)])
    right = np.mean(predicted == truth) * 100
    print(f"scans ({len(files)}): evaluate --data {evaluated * 100:.2f}%  predict {right:.2f}%")


def fashion(work: Path, count: int) -> None:
    """predict on Fashion-MNIST's own test PNGs against evaluate on the same pictures."""
    from PIL import Image

    from convcli.datasets.idx import load_dataset
    from convcli.models.build import load_model
    from convcli.prediction.evaluation import evaluate_arrays
    from convcli.prediction.predict import predict_files
    from convcli.training.run import TrainConfig, train

    data = load_dataset("fashion-mnist")
    model = work / "fashion.keras"
    if not model.exists():
        train(TrainConfig.from_preset("softmax", output=str(model), dataset="fashion-mnist", epochs=1, limit=6000))
    x, y = data.x_test[:count], data.y_test[:count]
    files = []
    for i, picture in enumerate(x):
        files.append(str(work / f"fashion{i}.png"))
        Image.fromarray(picture).save(files[-1])
    evaluated = evaluate_arrays(load_model(model), x, y, 10).accuracy
    predicted = np.array([r.prediction for r in predict_files(str(model), files)])
    print(f"fashion PNGs ({count}): predict {np.mean(predicted == y) * 100:.2f}%  evaluate {evaluated * 100:.2f}%")


def rescaling(work: Path) -> None:
    """evaluate on a plain Keras model with Rescaling(1/255) against Keras's own evaluation."""
    import keras

    from convcli.datasets.idx import load_dataset
    from convcli.jobs import evaluate_file

    data = load_dataset("mnist")
    keras.utils.set_random_seed(0)
    layers = [keras.layers.Rescaling(1 / 255), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    model = keras.Sequential([keras.Input((28, 28, 1)), *layers])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(data.x_train[:10000, :, :, None].astype("float32"), data.y_train[:10000], epochs=1, verbose=0)
    own = model.evaluate(data.x_test[:, :, :, None].astype("float32"), data.y_test, verbose=0)[1]
    path = work / "student.keras"
    model.save(path)
    ours = evaluate_file(path).result.accuracy
    print(f"plain Keras model with Rescaling(1/255): convcli evaluate {ours * 100:.2f}%  Keras {own * 100:.2f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="A trained digit model (see above)")
    parser.add_argument("--work", required=True, help="An empty folder for the pictures and models")
    parser.add_argument("--per-class", type=int, default=36, help="scans per digit (36: 360 like the issue)")
    parser.add_argument("--fashion", type=int, default=1000, help="Fashion-MNIST test pictures")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    scans(args.model, work, args.per_class)
    fashion(work, args.fashion)
    rescaling(work)


if __name__ == "__main__":
    main()
