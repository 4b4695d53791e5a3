"""Classifying a user's own digit images, prepared the way MNIST's digits were.

MNIST digits are light on dark, size-normalised into a 20×20 box keeping their aspect ratio,
and placed in a 28×28 field so that their centre of mass is at the centre. :func:`prepare_digit`
does the same to any photo or scan of one digit (dark-on-light or light-on-dark, any size).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import input_error

BOX = 20
FIELD = 28
UNCERTAIN_BELOW = 0.5
"""A prediction whose top probability is below this is reported as uncertain."""


def prepare_digit(image: np.ndarray, source: str = "image") -> np.ndarray:
    """Turn a picture of one digit into an MNIST-style 28×28 uint8 array (light digit on dark).

    Steps: gray; the digit's ink, found by :func:`convcli.digits.digit_ink` (noise, lighting,
    paper colour, ruled lines and other marks removed; either polarity); crop to the digit; scale
    into a 20×20 box keeping the aspect ratio; place in 28×28 with the centre of mass at the
    centre. A picture with no digit is an error naming ``source``. A 28×28 image that is already
    light on a black field (an MNIST digit saved as PNG) is kept as it is.
    """
    from .digits import digit_ink

    arr = gray_picture(image, source)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    if arr.shape == (FIELD, FIELD) and border.max() == 0 and arr.max() > 0:
        # Already an MNIST-format digit (28×28, light on a black field): use it as it is.
        return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    return mnist_field(digit_ink(arr, source) * 255.0, source)


def gray_picture(image: np.ndarray, source: str = "image") -> np.ndarray:
    """A picture as a float64 gray (H, W) array (luma for colour), or an error naming ``source``."""
    from .color import to_gray

    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 3:
        arr = to_gray(arr).astype(np.float64)
    if arr.ndim != 2 or arr.size == 0:
        raise input_error(f"{source}: expected an image, got shape {arr.shape}")
    return arr


def mnist_field(ink: np.ndarray, source: str = "image") -> np.ndarray:
    """Light-on-black ink (0–255, zero off the digit) cropped, fit into 20×20, centred by mass in 28×28."""
    from PIL import Image

    rows = np.nonzero(ink.max(axis=1) > 0)[0]
    cols = np.nonzero(ink.max(axis=0) > 0)[0]
    if not rows.size:
        raise input_error(f"{source}: no digit found (the image is blank or uniform)")
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.asarray(
        Image.fromarray(crop.astype(np.float32), mode="F").resize((new_w, new_h), Image.Resampling.LANCZOS),
        dtype=np.float64,
    )
    resized = np.clip(resized, 0, 255)
    total = resized.sum()
    if total <= 0:
        raise input_error(f"{source}: no digit found (the image is blank or uniform)")
    yy, xx = np.indices(resized.shape)
    cy, cx = (yy * resized).sum() / total, (xx * resized).sum() / total
    centre = FIELD / 2  # 14: where MNIST puts the centre of mass (measured on its test set)
    # keep the whole box inside the field
    top = min(max(round(centre - cy), 0), FIELD - new_h)
    left = min(max(round(centre - cx), 0), FIELD - new_w)
    out = np.zeros((FIELD, FIELD), dtype=np.float64)
    out[top : top + new_h, left : left + new_w] = resized
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) centre of mass of a non-negative image."""
    arr = np.asarray(image, dtype=np.float64)
    yy, xx = np.indices(arr.shape)
    total = arr.sum()
    return float((yy * arr).sum() / total), float((xx * arr).sum() / total)


@dataclass
class Prediction:
    """One classified image: the class, all probabilities, and the 28×28 input the model saw."""

    input: str
    prediction: int
    probabilities: list[float]
    digit: np.ndarray

    def top(self, k: int) -> list[tuple[int, float]]:
        """The ``k`` most likely classes with their probabilities."""
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(i), float(self.probabilities[i])) for i in order]

    def as_json(self, top_k: int | None = None) -> dict[str, Any]:
        """The ``--json`` object: input, prediction, probabilities (and top K)."""
        record: dict[str, Any] = {
            "input": self.input,
            "prediction": self.prediction,
            "probabilities": self.probabilities,
        }
        if top_k:
            record["top"] = [{"class": c, "probability": p} for c, p in self.top(top_k)]
        return record


def predict_digits(
    model: Any,
    digits: np.ndarray,
    names: list[str],
) -> list[Prediction]:
    """Classify prepared uint8 (N, 28, 28) digits with a loaded model."""
    from .evaluation import predict_probabilities, prepare_images
    from .models import check_image_model

    shape = check_image_model(model)
    probs = predict_probabilities(model, prepare_images(digits, shape))
    return [Prediction(name, int(p.argmax()), [float(v) for v in p], d) for name, p, d in zip(names, probs, digits)]


def predict_files(
    model_path: str | os.PathLike[str],
    images: list[str],
    *,
    index: int | None = None,
    dataset: str = "mnist",
    data_dir: str | None = None,
    max_pixels: int | None = None,
) -> list[Prediction]:
    """Classify image files (prepared like MNIST) or, with ``index``, one test image of the dataset."""
    from .images import DEFAULT_MAX_PIXELS, read_source
    from .models import load_model

    if index is None and not images:
        raise input_error("give one or more IMAGE files, or --index N for a test image")
    if index is not None and images:
        raise input_error("give IMAGE files or --index N, not both")
    if index is not None:
        digits, names = [dataset_test_image(index, dataset, data_dir)], [f"{dataset}:test[{index}]"]
    else:
        digits = [
            prepare_digit(read_source(path, max_pixels=max_pixels or DEFAULT_MAX_PIXELS), path) for path in images
        ]
        names = list(images)
    model = load_model(model_path)
    return predict_digits(model, np.stack(digits), names)


def dataset_test_image(index: int, dataset: str = "mnist", data_dir: str | None = None) -> np.ndarray:
    """Test image ``index`` of a dataset, with a clear error when out of range."""
    from .datasets import load_dataset

    data = load_dataset(dataset, data_dir)
    if not 0 <= index < len(data.x_test):
        raise input_error(
            f"--index {index} is out of range: the {dataset} test set has "
            f"{len(data.x_test):,} images (0 … {len(data.x_test) - 1})"
        )
    return data.x_test[index]
