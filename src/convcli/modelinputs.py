"""What a model takes, decided once from what it was trained on: how a user's picture is prepared
and how its pixels are scaled.

Three preparations (:func:`preparation_for`): ``digit`` for digit models (a photo or scan is
cropped, boxed and centred like MNIST's digits; a 28×28 picture that already looks like MNIST goes
in as it is), ``resize`` for models trained on a folder (resized as in training) and for models of
a dataset of pictures that are not digits, such as Fashion-MNIST: its own 28×28 pictures go in as
they are, never cropped or thresholded. The same rule serves ``predict``, ``evaluate --data``,
``feature-maps`` and ``explain``, so they agree on the same files.

Pixels are divided by 255 unless the model scales them itself (:func:`takes_raw_pixels`: a
``Rescaling`` or adapted ``Normalization`` layer at its input, as in many plain Keras models).
A model without convcli's metadata is taken as an MNIST digit model, with a warning saying so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConvcliError, input_error, warn

if TYPE_CHECKING:
    from .datasets import Dataset
    from .modelmeta import ModelMeta

PASS_THROUGH = ("InputLayer", "Reshape", "Flatten", "Permute", "Identity")
"""Layers that move pixels without changing their values: the search for a scaling layer passes them."""


def preparation_for(meta: ModelMeta) -> str:
    """``digit`` for a digit model, ``resize`` for a folder model or a model of a dataset of
    pictures that are not digits (a garment is never cropped and thresholded like a digit)."""
    from .modelmeta import DIGITS

    if meta.preparation == "digit" and meta.class_names != DIGITS:
        return "resize"
    return meta.preparation


def scaling_layer(model: Any) -> Any:
    """The model's own input scaling, if any: a ``Rescaling`` or ``Normalization`` layer before
    any layer with weights (reshapes and flattens in between are passed)."""
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in ("Rescaling", "Normalization"):
            return layer
        if kind not in PASS_THROUGH:
            return None
    return None


def takes_raw_pixels(model: Any) -> bool:
    """Whether the model expects pixels 0–255: its first layer rescales them by a small factor
    (``Rescaling(1/255)``, ``Rescaling(1/127.5, offset=-1)``) or normalises them with statistics
    measured on 0–255 pixels (mean above 2)."""
    layer = scaling_layer(model)
    if layer is None:
        return False
    if type(layer).__name__ == "Rescaling":
        return float(np.max(np.abs(np.asarray(layer.scale, dtype=np.float64)))) < 0.1
    mean = getattr(layer, "mean", None)
    try:
        return mean is not None and float(np.max(np.abs(np.asarray(mean, dtype=np.float64)))) > 2.0
    except (TypeError, ValueError):
        return False


def model_pixels(model: Any, x: np.ndarray) -> np.ndarray:
    """uint8 pictures as ``model``'s input: float32 in its shape, divided by 255 unless the model
    scales them itself (:func:`takes_raw_pixels`)."""
    from .datasets import scale_images
    from .models import check_image_model

    scaled = scale_images(x, check_image_model(model))
    return scaled * np.float32(255.0) if takes_raw_pixels(model) else scaled


def warn_assumptions(model_path: str | os.PathLike[str], meta: ModelMeta, model: Any) -> None:
    """For a model without convcli's metadata, a warning saying what is assumed of it."""
    if meta.stored:
        return
    layer = scaling_layer(model)
    if layer is not None and takes_raw_pixels(model):
        pixels = f"pixels 0–255 (its {type(layer).__name__} layer {layer.name!r} scales them)"
    else:
        pixels = "pixels divided by 255 (0–1)"
    warn(
        f"{model_path}: no convcli metadata inside: taken as an MNIST digit model (classes 0–9, pictures "
        f"prepared like MNIST's digits), given {pixels}"
    )


def digit_test_folder(
    folder: str | os.PathLike[str], meta: ModelMeta, warn_line: Any = None
) -> tuple[Dataset, str]:
    """The labelled pictures of ``folder`` (class folders, or its ``test/`` folder) prepared for a
    digit model as ``predict`` prepares them, one by one; a picture with no digit gives a warning
    and is evaluated as a blank picture (its label kept, so the accuracy is over every file)."""
    from .datasets import Dataset
    from .imagefolders import list_folder
    from .prediction import prepare_picture

    root = Path(folder)
    listing = list_folder(root, meta.class_names)
    files, what = (listing.test, f"{root / 'test'}") if listing.test is not None else (listing.train, f"{root}")
    size = (meta.input_shape[0], meta.input_shape[1])
    inputs, labels, refused = [], [], 0
    for path, label in files:
        try:
            inputs.append(prepare_picture(path, "digit", size, meta.color))
        except ConvcliError as exc:
            refused += 1
            inputs.append(np.zeros(size, dtype=np.uint8))
            if warn_line is not None:
                warn_line(f"{exc.message} (evaluated as a blank picture)")
        labels.append(label)
    if not inputs:
        raise input_error(f"{root}: no pictures")
    x, y = np.stack(inputs), np.asarray(labels, dtype=np.int32)
    what = f"every picture in {what}, each prepared like MNIST's digits, as predict does"
    if refused:
        what += f" ({refused} without a digit, evaluated as blank pictures)"
    return Dataset(f"folder:{root.resolve().name}", x[:0], y[:0], x, y, str(root), names=meta.class_names), what
