"""A Keras model as the explain site's in-browser engine reads it: one JSON description per layer
and every weight in one little-endian float32 buffer.

The engine (``static/engine.js``) runs a plain chain of the layers convcli's specs build
(Conv2D, pooling, Flatten, Dense, Dropout, BatchNormalization, ZeroPadding2D, and the input
scalings ``Rescaling``/``Normalization``) in float64. Any other layer, activation or wiring is
refused here, naming the layer, so that a site never computes something else than the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import input_error
from ..i18n import tr
from ..models.layerspec import LAYER_ACTIVATIONS

ACTIVATIONS = LAYER_ACTIVATIONS
"""The activations the engine computes: those a spec's ``conv`` and ``dense`` accept."""
PASS = ("Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "Identity", "InputLayer")
"""Layers that do nothing at inference."""
SUPPORTED = (
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Flatten",
    "Reshape",
    "Dense",
    "Activation",
    "BatchNormalization",
    "ZeroPadding2D",
    "Rescaling",
    "Normalization",
    *PASS,
)


class WeightBuffer:
    """Weights appended one array at a time; each layer keeps ``[offset, length]`` in floats."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.size = 0

    def add(self, array: Any) -> list[int]:
        flat = np.ascontiguousarray(np.asarray(array, dtype="<f4").ravel())
        place = [self.size, int(flat.size)]
        self.parts.append(flat)
        self.size += int(flat.size)
        return place

    def tobytes(self) -> bytes:
        return b"".join(part.tobytes() for part in self.parts)


def _pair(value: Any) -> list[int]:
    return [int(value[0]), int(value[1])] if isinstance(value, (tuple, list)) else [int(value), int(value)]


def _activation(layer: Any) -> str:
    name = getattr(layer.activation, "__name__", str(layer.activation))
    if name not in ACTIVATIONS:
        message = tr(
            "layer {layer} ({type}) uses activation {name}, which the static site's engine does not compute "
            "(it has: {known})"
        )
        kind, known = type(layer).__name__, ", ".join(ACTIVATIONS)
        raise input_error(message.format(layer=repr(layer.name), type=kind, name=repr(name), known=known))
    return name


def _channels_last(layer: Any) -> None:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise input_error(
            tr("layer {name!r} is channels_first: the static site runs channels_last models only").format(
                name=layer.name
            )
        )


def _conv(layer: Any, buffer: WeightBuffer) -> dict[str, Any]:
    _channels_last(layer)
    if int(getattr(layer, "groups", 1)) != 1:
        raise input_error(
            tr("layer {name!r} is a grouped Conv2D: the static site's engine has no groups").format(name=layer.name)
        )
    weights = layer.get_weights()
    return {
        "kernel": _pair(layer.kernel_size),
        "strides": _pair(layer.strides),
        "dilation": _pair(layer.dilation_rate),
        "padding": layer.padding,
        "filters": int(layer.filters),
        "activation": _activation(layer),
        "weights": buffer.add(weights[0]),
        "bias": buffer.add(weights[1]) if layer.use_bias else None,
    }


def _pool(layer: Any) -> dict[str, Any]:
    _channels_last(layer)
    return {"kernel": _pair(layer.pool_size), "strides": _pair(layer.strides), "padding": layer.padding}


def _dense(layer: Any, buffer: WeightBuffer) -> dict[str, Any]:
    weights = layer.get_weights()
    return {
        "units": int(layer.units),
        "activation": _activation(layer),
        "weights": buffer.add(weights[0]),
        "bias": buffer.add(weights[1]) if layer.use_bias else None,
    }


def _batchnorm(layer: Any, buffer: WeightBuffer) -> dict[str, Any]:
    axis = layer.axis if isinstance(layer.axis, int) else next(iter(layer.axis))
    if axis not in (-1, len(layer.input.shape) - 1):
        raise input_error(
            tr("layer {name!r} normalises axis {axis}: the static site handles the last axis only").format(
                name=layer.name, axis=axis
            )
        )
    return {
        "epsilon": float(layer.epsilon),
        "gamma": buffer.add(layer.gamma.numpy()) if layer.scale else None,
        "beta": buffer.add(layer.beta.numpy()) if layer.center else None,
        "mean": buffer.add(layer.moving_mean.numpy()),
        "variance": buffer.add(layer.moving_variance.numpy()),
    }


def _scaling(layer: Any, buffer: WeightBuffer) -> dict[str, Any]:
    """Rescaling (x·scale + offset) or Normalization ((x − mean)/max(√variance, ε)), per channel."""
    channels = int(layer.input.shape[-1])
    if type(layer).__name__ == "Rescaling":
        scale, offset = (np.broadcast_to(np.asarray(v, np.float64), (channels,)) for v in (layer.scale, layer.offset))
        return {"scale": buffer.add(scale), "offset": buffer.add(offset)}
    mean, variance = (np.asarray(v, np.float64).ravel() for v in (layer.mean, layer.variance))
    if mean.size not in (1, channels) or getattr(layer, "invert", False):
        raise input_error(
            tr("layer {name!r}: the static site handles a Normalization per channel only").format(name=layer.name)
        )
    std = np.maximum(np.sqrt(np.broadcast_to(variance, (channels,))), 1e-7)  # Keras's backend.epsilon()
    return {"scale": buffer.add(1.0 / std), "offset": buffer.add(-np.broadcast_to(mean, (channels,)) / std)}


def describe_layer(layer: Any, buffer: WeightBuffer) -> dict[str, Any]:
    """One layer as the engine reads it (its weights added to ``buffer``), or an error naming it."""
    kind = type(layer).__name__
    if kind not in SUPPORTED:
        message = tr(
            "layer {layer} ({type}) cannot run in the static site: its engine computes {known} "
            "(serve the model with `convcli explain` instead)"
        )
        known = ", ".join(s for s in SUPPORTED if s not in PASS)
        raise input_error(message.format(layer=repr(layer.name), type=kind, known=known))
    entry: dict[str, Any] = {"name": layer.name, "type": kind, "output_shape": [int(d) for d in layer.output.shape[1:]]}
    if kind == "Conv2D":
        entry.update(_conv(layer, buffer))
    elif kind in ("MaxPooling2D", "AveragePooling2D"):
        entry.update(_pool(layer))
    elif kind == "Dense":
        entry.update(_dense(layer, buffer))
    elif kind == "Activation":
        entry["activation"] = _activation(layer)
    elif kind == "BatchNormalization":
        entry.update(_batchnorm(layer, buffer))
    elif kind == "ZeroPadding2D":
        _channels_last(layer)
        entry["padding"] = [list(map(int, side)) for side in layer.padding]
    elif kind in ("Rescaling", "Normalization"):
        entry.update(_scaling(layer, buffer))
    elif kind.startswith("Global"):
        _channels_last(layer)
        if getattr(layer, "keepdims", False):
            raise input_error(
                tr("layer {name!r} keeps its dimensions: the static site handles keepdims=False only").format(
                    name=layer.name
                )
            )
    return entry


def chain_of(model: Any) -> list[Any]:
    """The model's layers in order, when each takes the one before's output (else an error)."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if type(model).__name__ == "Sequential":  # a chain by construction (its layers may hold other calls' nodes)
        return layers
    previous = model.inputs[0]
    for layer in layers:
        inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        if len(inputs) != 1 or inputs[0] is not previous:
            message = tr(
                "layer {layer} does not simply follow the layer before it: "
                "the static site runs a plain chain of layers (a Sequential model)"
            )
            raise input_error(message.format(layer=repr(layer.name)))
        previous = layer.output
    if previous is not model.outputs[0]:
        raise input_error(
            tr("the model's output is not its last layer's: the static site runs a plain chain of layers")
        )
    return layers


def engine_layers(model: Any) -> tuple[list[dict[str, Any]], bytes]:
    """Every layer described for the engine, and the weights as little-endian float32 bytes."""
    buffer = WeightBuffer()
    described = [describe_layer(layer, buffer) for layer in chain_of(model)]
    return described, buffer.tobytes()
