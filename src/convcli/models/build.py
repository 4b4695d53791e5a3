"""Building models from layer specs, and loading saved ``.keras`` models safely.

The spec language lives in :mod:`convcli.models.layerspec`, the named models in
:mod:`convcli.models.presets` and the per-layer arithmetic in :mod:`convcli.models.summary`.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

from ..errors import input_error, warn
from ..i18n import tr
from .layerspec import LayerSpec, bind_arguments, parse_spec, spec_error
from .presets import resolve_architecture
from .speccheck import classifier_warnings, resolve_input_shape, spec_shapes

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def _keras_layer(k: Any, spec: LayerSpec, last_dense: bool, counters: dict[str, int]) -> Any:
    bound = bind_arguments(spec)
    keras_type = {
        "conv": "conv2d",
        "pool": "max_pooling2d",
        "avgpool": "average_pooling2d",
        "gap": "global_average_pooling2d",
        "flatten": "flatten",
        "dense": "dense",
        "dropout": "dropout",
        "batchnorm": "batch_normalization",
    }[spec.kind]
    count = counters.get(keras_type, 0)
    counters[keras_type] = count + 1
    name = bound.get("name") or (keras_type if count == 0 else f"{keras_type}_{count}")
    if spec.kind == "conv":
        return k.layers.Conv2D(
            bound["filters"],
            bound["kernel"],
            strides=bound.get("strides", 1),
            padding="valid" if isinstance(bound.get("padding"), int) else bound.get("padding", "valid"),
            activation=bound.get("activation", "relu"),
            name=name,
        )
    if spec.kind in ("pool", "avgpool"):
        cls = k.layers.MaxPooling2D if spec.kind == "pool" else k.layers.AveragePooling2D
        size = bound.get("size", 2)
        return cls(pool_size=size, strides=bound.get("strides", size), padding=bound.get("padding", "valid"), name=name)
    if spec.kind == "gap":
        return k.layers.GlobalAveragePooling2D(name=name)
    if spec.kind == "flatten":
        return k.layers.Flatten(name=name)
    if spec.kind == "dense":
        default = "softmax" if last_dense else "relu"
        # Under mixed precision the class probabilities stay float32, as Keras advises.
        dtype = "float32" if last_dense and k.mixed_precision.global_policy().name.startswith("mixed") else None
        return k.layers.Dense(bound["units"], activation=bound.get("activation", default), name=name, dtype=dtype)
    if spec.kind == "dropout":
        return k.layers.Dropout(float(bound["rate"]), name=name)
    return k.layers.BatchNormalization(momentum=float(bound.get("momentum", 0.99)), name=name)


def _padded(k: Any, spec: LayerSpec, layer: Any, counters: dict[str, int]) -> list[Any]:
    """A conv layer with the lecture's numeric padding P: Keras's ``ZeroPadding2D(P)`` (P zeros
    on each side) before the Conv2D, which then pads nothing; any other layer alone."""
    padding = bind_arguments(spec).get("padding")
    if spec.kind != "conv" or not isinstance(padding, int) or padding == 0:
        return [layer]
    count = counters.get("zero_padding2d", 0)
    counters["zero_padding2d"] = count + 1
    name = "zero_padding2d" if count == 0 else f"zero_padding2d_{count}"
    return [k.layers.ZeroPadding2D(padding, name=name), layer]


def build_model(
    spec: str | list[LayerSpec],
    *,
    name: str = "convcli_model",
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int = NUM_CLASSES,
) -> Any:
    """Build a ``keras.Sequential`` from a spec; the output must be ``num_classes`` probabilities.

    ``input_shape``: the data's (H, W, C); by default the spec's own (``Input(shape=...)``,
    ``input_shape=``) or MNIST's 28×28×1. A spec declaring another shape than the data's is an error.

    A last layer that is not softmax is built with a :class:`~convcli.errors.ConvcliWarning`.
    """
    specs = parse_spec(spec) if isinstance(spec, str) else spec
    input_shape = resolve_input_shape(specs, input_shape, given_as="the data", default=INPUT_SHAPE)
    spec_shapes(specs, input_shape)  # an impossible spec is explained in its own terms, before Keras
    for message in classifier_warnings(specs):
        warn(message)
    from ..backend import keras

    k = keras()
    dense_indices = [i for i, s in enumerate(specs) if s.kind == "dense"]
    last_dense = dense_indices[-1] if dense_indices else -1
    counters: dict[str, int] = {}
    names: set[str] = set()
    layers = []
    x = k.Input(shape=input_shape)
    for i, layer_spec in enumerate(specs):
        for layer in _padded(k, layer_spec, _keras_layer(k, layer_spec, i == last_dense, counters), counters):
            if layer.name in names:
                raise spec_error(layer_spec, tr("layer name {name!r} is used twice").format(name=layer.name))
            names.add(layer.name)
            shape = tuple(x.shape[1:])
            try:
                x = layer(x)
            except (ValueError, TypeError) as exc:
                detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                message = tr("cannot follow an output of shape {shape} ({detail})").format(
                    shape=shape, detail=detail[:160]
                )
                raise spec_error(layer_spec, message) from None
            if any(d is not None and d < 1 for d in x.shape[1:]):
                message = tr("turns shape {shape} into {output}: nothing left").format(
                    shape=shape, output=tuple(x.shape[1:])
                )
                raise spec_error(layer_spec, message)
            layers.append(layer)
    model = k.Sequential([k.Input(shape=input_shape), *layers], name=name)
    out_shape = tuple(model.outputs[0].shape[1:])
    if out_shape != (num_classes,):
        raise spec_error(
            specs[-1],
            tr(
                "the model's output has shape {shape}; it must end in dense({classes}) after flatten or gap, "
                "giving {classes} class probabilities"
            ).format(shape=out_shape, classes=num_classes),
        )
    return model


def check_model_archive(p: Path) -> None:
    """Refuse what is not a readable ``.keras`` zip before Keras sees it (clear errors, no traceback)."""
    if not p.exists():
        raise input_error(tr("{path}: no such model file").format(path=p))
    if p.suffix.lower() in (".onnx", ".tflite"):
        raise input_error(
            tr(
                "{path}: an exported model runs predict and evaluate only; this needs the .keras file it was "
                "exported from (its layers, weights and training state)"
            ).format(path=p)
        )
    if (p / "saved_model.pb").exists():
        raise input_error(
            tr(
                "{path}: a SavedModel folder runs in TensorFlow (tf.saved_model.load); convcli needs the .keras file"
            ).format(path=p)
        )
    if p.is_dir():
        raise input_error(tr("{path}: is a folder, expected a .keras model file").format(path=p))
    if p.suffix != ".keras":
        raise input_error(tr("{path}: expected a .keras model file (Keras 3 format)").format(path=p))
    if not zipfile.is_zipfile(p):
        raise input_error(tr("{path}: not a .keras model (not a zip archive; truncated or corrupted?)").format(path=p))
    try:
        with zipfile.ZipFile(p) as archive:
            if "config.json" not in set(archive.namelist()):
                raise input_error(tr("{path}: not a .keras model (no config.json inside)").format(path=p))
            bad = archive.testzip()
            if bad is not None:
                raise input_error(tr("{path}: corrupted model file ({bad} fails its checksum)").format(path=p, bad=bad))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise input_error(tr("{path}: corrupted model file ({exc})").format(path=p, exc=exc)) from None


def load_model(path: str | Any, *, compile: bool = True) -> Any:
    """Load a ``.keras`` model in Keras's safe mode: files carrying code (Lambda layers,
    custom objects) are refused, and a damaged file is a clear error, not a traceback.
    ``compile=False`` for a model only run forward (predict): its loss and optimizer are not
    rebuilt (about 40 ms of a one-image predict)."""
    p = Path(path)
    check_model_archive(p)
    from ..backend import is_verbose, keras

    k = keras()
    try:
        with warnings.catch_warnings():
            if not is_verbose():  # Keras's notes (optimizer state skipped, …) are not the user's errors
                warnings.simplefilter("ignore")
            return k.saving.load_model(p, safe_mode=True, compile=compile)
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "safe_mode" in str(exc) or "Lambda" in str(exc) or "lambda" in str(exc):
            raise input_error(
                tr(
                    "{path}: refused: the model carries code (a Lambda layer or custom object), which safe mode "
                    "does not load from untrusted files"
                ).format(path=p)
            ) from None
        raise input_error(tr("{path}: cannot load model ({message})").format(path=p, message=message[:200])) from None


def parse_input_shape(text: str) -> tuple[int, int, int]:
    """``HxWxC`` (or ``HxW`` for gray) as (H, W, C); C is 1 (gray) or 3 (RGB)."""
    match = re.fullmatch(r"\s*(\d+)\s*[x×X]\s*(\d+)\s*(?:[x×X]\s*(\d+)\s*)?", text)
    shape = (int(match[1]), int(match[2]), int(match[3] or 1)) if match else None
    if shape is None or not (1 <= shape[0] <= 4096 and 1 <= shape[1] <= 4096 and shape[2] in (1, 3)):
        raise input_error(
            tr("input_shape must be HxWxC with sides of 1 to 4096 and C 1 or 3 (such as 64x48x3), got {text!r}").format(
                text=text
            )
        )
    return shape


def model_from_argument(
    model: str | None,
    layers: str | None,
    input_shape: tuple[int, int, int] | None = None,
    *,
    given_as: str = "input_shape",
) -> Any:
    """A Keras model from ``summary``'s arguments: a ``.keras`` file, or a preset (ten classes) or
    a spec (as many classes as its last dense has units) built for ``input_shape`` (default
    MNIST's 28×28×1); messages call that setting ``given_as``."""
    if model and (model.endswith(".keras") or Path(model).exists()) and not layers:
        if input_shape is not None:
            raise input_error(
                tr("{model}: a saved model has its own input shape; {given_as} is for presets and specs").format(
                    model=model, given_as=given_as
                )
            )
        return load_model(model)
    spec, name = resolve_architecture(model, layers)
    specs = parse_spec(spec)
    last = specs[-1]
    # A spec of one's own may score any number of classes: its last dense says how many.
    classes = bind_arguments(last).get("units", NUM_CLASSES) if name is None and last.kind == "dense" else NUM_CLASSES
    shape = resolve_input_shape(specs, input_shape, given_as=given_as, default=INPUT_SHAPE)
    return build_model(specs, name=name or "convcli_model", input_shape=shape, num_classes=classes)
