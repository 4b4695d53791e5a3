"""``predict`` on Fashion-MNIST's test pictures re-framed the ways product photos come.

Each of the first N test pictures is saved as a 28×28 PNG, enlarged to 280×280, inverted (dark on
white), shrunk to 150 px on a 400×400 white or black canvas, set on a wide 420×280 white canvas,
and as a blurred RGB JPEG; ``predict`` (the library, as the CLI calls it) is run on each set and
its accuracy printed. The model's own accuracy on the pictures as they are is the ceiling.

    convcli train cnn --dataset fashion-mnist --epochs 2 --seed 0 -o /tmp/fashion.keras
    python benchmarks/garment_framing.py /tmp/fashion.keras --count 200
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


def variants(picture: np.ndarray, rng: np.random.Generator) -> Iterator[tuple[str, Image.Image]]:
    """The ways one garment is saved: (set name, picture)."""
    small = Image.fromarray(picture)
    big = small.resize((280, 280), Image.Resampling.LANCZOS)
    negative = Image.fromarray(255 - np.asarray(big))
    yield "28x28 png", small
    yield "280x280", big
    yield "dark on white", negative
    shrunk = small.resize((150, 150), Image.Resampling.LANCZOS)
    canvas = Image.new("L", (400, 400), 255)
    canvas.paste(Image.fromarray(255 - np.asarray(shrunk)), (int(rng.integers(20, 230)), int(rng.integers(20, 230))))
    yield "150 px on 400 white", canvas
    canvas = Image.new("L", (400, 400), 0)
    canvas.paste(shrunk, (125, 125))
    yield "150 px on 400 black", canvas
    wide = Image.new("L", (420, 280), 255)
    wide.paste(negative, (70, 0))
    yield "on 420x280 white", wide
    yield "rgb jpeg", Image.merge("RGB", [negative] * 3).filter(ImageFilter.GaussianBlur(1))


def main() -> None:
    from convcli.datasets.idx import load_dataset
    from convcli.prediction.predict import predict_files

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--data-dir", default="/usr/share/datasets")
    args = parser.parse_args()
    data = load_dataset("fashion-mnist", data_dir=args.data_dir)
    x, y = data.x_test[: args.count], data.y_test[: args.count]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as work:
        sets: dict[str, list[str]] = {}
        for i, picture in enumerate(x):
            for k, (name, image) in enumerate(variants(picture, rng)):
                path = Path(work) / f"{k}-{i:05d}.{'jpg' if name == 'rgb jpeg' else 'png'}"
                image.save(path, quality=85)
                sets.setdefault(name, []).append(str(path))
        for name, files in sets.items():
            predicted = np.array([r.prediction for r in predict_files(args.model, files)])
            print(f"{name:22s} {np.mean(predicted == y) * 100:5.1f}% of {len(files)}", flush=True)


if __name__ == "__main__":
    main()
