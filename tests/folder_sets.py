"""Small labelled datasets that tests build in code: MNIST test digits as PNG class folders named
``zero``…``nine``, coloured shapes on a non-square canvas, and an EMNIST-like IDX set of 26 letters."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from conftest import idx_bytes, write_png

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
COLOURS = {"red": (220, 40, 30), "green": (40, 190, 50), "blue": (40, 60, 220)}
CANVAS = (20, 30)
"""Height and width of the coloured pictures (not square on purpose)."""


def digit_folders(root: Path, images: np.ndarray, labels: np.ndarray, per_class: int, start: int = 0) -> Path:
    """The first ``per_class`` digits of each class from ``start`` on, as ``root/<word>/<index>.png``."""
    for digit, word in enumerate(DIGIT_WORDS):
        folder = root / word
        folder.mkdir(parents=True, exist_ok=True)
        for index in np.flatnonzero(labels == digit)[start : start + per_class]:
            write_png(folder / f"{index:05d}.png", images[index])
    return root


def colour_picture(rng: np.random.Generator, colour: str, size: tuple[int, int] = CANVAS) -> np.ndarray:
    """A filled rectangle or disc of ``colour`` (a little jitter) on a random muted background."""
    height, width = size
    picture = np.empty((height, width, 3), np.uint8)
    picture[:] = rng.integers(60, 140) + rng.integers(-15, 16, size=3)
    yy, xx = np.mgrid[:height, :width] / np.array([height, width])[:, None, None]
    cy, cx, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3)
    inside = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2 if rng.random() < 0.5 else (abs(yy - cy) < r) & (abs(xx - cx) < r)
    picture[inside] = np.clip(np.array(COLOURS[colour]) + rng.integers(-20, 21, size=3), 0, 255)
    return picture


def colour_folders(root: Path, per_class: int, seed: int = 0) -> Path:
    """``root/<colour>/NNN.png``: ``per_class`` coloured shapes of each colour, 20×30 RGB."""
    rng = np.random.default_rng(seed)
    for colour in COLOURS:
        folder = root / colour
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            write_png(folder / f"{i:03d}.png", colour_picture(rng, colour))
    return root


def letter_patterns(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """28×28 gray images whose class (1…26) is where a bright 4×4 block sits, over faint noise."""
    images = rng.integers(0, 40, size=(len(labels), 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels):
        row, col = divmod(int(label) - 1, 6)
        image[2 + row * 5 : 6 + row * 5, 2 + col * 4 : 6 + col * 4] = 255
    return images


def emnist_like(root: Path, n_train: int = 1300, n_test: int = 260, seed: int = 0) -> tuple[Path, np.ndarray]:
    """An EMNIST-letters-like IDX set: labels 1…26, images stored transposed as EMNIST stores
    them, file names and the mapping file as EMNIST's. Returns the folder and the upright test images."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    y_train = np.arange(n_train) % 26 + 1
    y_test = np.arange(n_test) % 26 + 1
    x_train, x_test = letter_patterns(y_train, rng), letter_patterns(y_test, rng)
    parts = {
        "train-images-idx3-ubyte": x_train.transpose(0, 2, 1),
        "train-labels-idx1-ubyte": y_train,
        "test-images-idx3-ubyte": x_test.transpose(0, 2, 1),
        "test-labels-idx1-ubyte": y_test,
    }
    for name, array in parts.items():
        (root / f"emnist-letters-{name}.gz").write_bytes(gzip.compress(idx_bytes(np.ascontiguousarray(array))))
    mapping = "".join(f"{k} {64 + k} {96 + k}\n" for k in range(1, 27))
    (root / "emnist-letters-mapping.txt").write_text(mapping)
    return root, x_test
