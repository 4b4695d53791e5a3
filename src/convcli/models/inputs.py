"""What a model takes, decided once from what it was trained on: how a user's picture is prepared
and how its pixels are scaled.

Three preparations (:func:`preparation_for`): ``digit`` for digit models (a photo or scan is
cropped, boxed and centred like MNIST's digits; a 28×28 picture that already looks like MNIST goes
in as it is), ``resize`` for models trained on a folder (resized as in training), ``frame`` for
models of a built-in dataset of pictures that are not digits, such as Fashion-MNIST: a picture is
trimmed to its object and centred as the dataset's were (:mod:`convcli.prediction.framing`), and
the dataset's own pictures go in as they are, never cropped or thresholded. The same rule serves
``predict``, ``evaluate --data``, ``feature-maps`` and ``explain``, so they agree on the same files.

Pixels are divided by 255 unless the model scales them itself (:func:`takes_raw_pixels`: a
``Rescaling`` or adapted ``Normalization`` layer at its input, as in many plain Keras models).
A model without convcli's metadata is taken as an MNIST digit model, with a warning saying so.
A folder of scans evaluated with a digit model is prepared by :mod:`convcli.datasets.digitfolders`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import input_error, warn
from ..i18n import tr

if TYPE_CHECKING:
    from .metadata import ModelMeta

PASS_THROUGH = ("InputLayer", "Reshape", "Flatten", "Permute", "Identity")
"""Layers that move pixels without changing their values: the search for a scaling layer passes them."""


def preparation_for(meta: ModelMeta) -> str:
    """``digit`` for a digit model, ``frame`` for a Fashion-MNIST model (a garment is never cropped
    and thresholded like a digit, but trimmed and centred as the dataset made its pictures),
    ``resize`` for a folder model and for any other set of 28×28 pictures that are not digits (an
    IDX set of letters, whose making convcli does not know)."""
    from .metadata import DIGITS

    if meta.preparation == "digit" and meta.class_names != DIGITS:
        return "frame" if meta.dataset == "fashion-mnist" else "resize"
    return meta.preparation


def paper_for(meta: ModelMeta) -> str:
    """The background every training picture of a built-in set of non-digits had (Fashion-MNIST:
    ``dark``), which :func:`on_training_paper` turns a user's picture to; ``""`` for digit models
    (their preparation finds the ink on either paper) and for folder models, whose photos may lie
    on any background (``explain`` turns only its drawings and uploads for those)."""
    from .metadata import DIGITS

    built_in_non_digits = meta.preparation == "digit" and meta.class_names != DIGITS
    return meta.paper if built_in_non_digits and meta.paper in ("light", "dark") else ""


def on_training_paper(pixels: np.ndarray, paper: str) -> np.ndarray:
    """``pixels`` (uint8 H, W, C) inverted when their border says the other background than the
    model's training pictures: a garment photographed on white for a Fashion-MNIST model (light on
    black), a drawing on black for a model of scans; as they are when ``paper`` is ``""``."""
    if paper not in ("light", "dark"):
        return pixels
    gray = pixels.astype(np.float64).mean(axis=2) if pixels.ndim == 3 else pixels.astype(np.float64)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return 255 - pixels if (float(np.median(border)) >= 128) != (paper == "light") else pixels


def scaling_layer(model: Any) -> Any:
    """The model's own input scaling, if any: a ``Rescaling`` or ``Normalization`` layer before
    any layer with weights (reshapes and flattens in between are passed)."""
    for layer in getattr(model, "layers", ()):  # an export (ONNX, LiteRT) has its scaling inside
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


def check_image_model(model: Any, source: str = "model") -> tuple[int, ...]:
    """The model's input shape without the batch axis; it must take one gray or RGB image
    (H×W×1, H×W×3, H×W, or MNIST's 784 pixels in a row). Here, not in :mod:`.build`: predicting
    with an export needs it, not the layer-spec machinery ``build`` imports."""
    shape = tuple(model.inputs[0].shape[1:])
    image = len(shape) in (2, 3) and all(isinstance(d, int) for d in shape) and shape[2:] in ((), (1,), (3,))
    if not image and shape != (784,):
        raise input_error(
            tr("{source}: the model takes inputs of shape {shape}, not gray or RGB images").format(
                source=source, shape=shape
            )
        )
    out = tuple(model.outputs[0].shape[1:])
    if len(out) != 1:
        raise input_error(
            tr("{source}: the model outputs shape {out}, not class scores").format(source=source, out=out)
        )
    return shape


def model_pixels(model: Any, x: np.ndarray) -> np.ndarray:
    """uint8 pictures as ``model``'s input: float32 in its shape, divided by 255 unless the model
    scales them itself (:func:`takes_raw_pixels`)."""
    from ..datasets.idx import scale_images

    scaled = scale_images(x, check_image_model(model))
    return scaled * np.float32(255.0) if takes_raw_pixels(model) else scaled


def warn_assumptions(model_path: str | os.PathLike[str], meta: ModelMeta, model: Any) -> None:
    """For a model without convcli's metadata, a warning saying what is assumed of it."""
    if meta.stored:
        return
    layer = scaling_layer(model)
    if layer is not None and takes_raw_pixels(model):
        message = tr("pixels 0–255 (its {type} layer {name} scales them)")
        pixels = message.format(type=type(layer).__name__, name=repr(layer.name))
    else:
        pixels = tr("pixels divided by 255 (0–1)")
    message = tr(
        "{model}: no convcli metadata inside: taken as an MNIST digit model (classes 0–9, pictures "
        "prepared like MNIST's digits), given {pixels}"
    )
    warn(message.format(model=model_path, pixels=pixels))
