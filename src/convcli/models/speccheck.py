"""Checks of a whole layer spec, before any model is built: each layer's output shape worked
out from the spec alone (so an impossible spec is explained in its own terms, not by a Keras
exception), and what is legal but likely wrong in a classifier.

Nothing here imports Keras. The arithmetic is Keras's: T = ⌊(N − K)/S⌋ + 1 for ``valid``
padding, T = ⌈N/S⌉ for ``same``.
"""

from __future__ import annotations

from typing import Any

from .layerspec import LayerSpec, bind_arguments, spec_error


def _window(spec: LayerSpec, bound: dict[str, Any]) -> tuple[int, int, str]:
    """A conv or pooling layer's window size, stride and padding, with Keras's defaults."""
    if spec.kind == "conv":
        return bound["kernel"], bound.get("strides", 1), bound.get("padding", "valid")
    size = bound.get("size", 2)
    return size, bound.get("strides", size), bound.get("padding", "valid")


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def _after(specs: list[LayerSpec], index: int, shape: tuple[int, ...]) -> str:
    """What a layer receives, in the spec's terms: "the 28×28×1 input" or "the 2×2×8 output of layer 3 'pool(3)'"."""
    if index == 0:
        return f"the {_shape_text(shape)} input"
    before = specs[index - 1]
    return f"the {_shape_text(shape)} output of layer {index} {before.token.strip()!r}"


def _next_shape(
    specs: list[LayerSpec], index: int, shape: tuple[int, ...], input_shape: tuple[int, ...]
) -> tuple[int, ...]:
    """The output shape of layer ``index`` given its input ``shape`` (Keras's arithmetic)."""
    spec = specs[index]
    bound = bind_arguments(spec)
    if spec.kind in ("conv", "pool", "avgpool", "gap") and len(shape) != 3:
        raise spec_error(spec, f"{spec.kind} needs a height×width×channels map, but gets {_after(specs, index, shape)}")
    if spec.kind in ("conv", "pool", "avgpool"):
        k, stride, padding = _window(spec, bound)
        if padding == "same":
            sizes = [-(-n // stride) for n in shape[:2]]
        else:
            sizes = [(n - k) // stride + 1 for n in shape[:2]]
        out = (*sizes, bound["filters"] if spec.kind == "conv" else shape[2])
        if min(sizes) < 1:
            n = min(shape[:2])
            raise spec_error(
                spec,
                f"its {k}×{k} window does not fit {_after(specs, index, shape)}: ⌊({n} − {k})/{stride}⌋ + 1 = "
                f"{(n - k) // stride + 1}, so its output would be empty (the input {'×'.join(map(str, input_shape))} "
                "is too small for this model); use a smaller size, padding=same, or fewer pooling or conv "
                "layers before it",
            )
        return out
    if spec.kind == "gap":
        return (shape[2],)
    if spec.kind == "flatten":
        size = 1
        for n in shape:
            size *= n
        return (size,)
    if spec.kind == "dense":
        return (*shape[:-1], bound["units"])
    return shape


def spec_shapes(specs: list[LayerSpec], input_shape: tuple[int, ...] = (28, 28, 1)) -> list[tuple[int, ...]]:
    """Each layer's output shape (without the batch axis), worked out from the spec alone.

    A layer whose output would be empty, or that needs a 2-D map after the spec has flattened
    it, is an error naming the layer and the output it receives, in the spec's own terms.
    """
    shapes: list[tuple[int, ...]] = []
    shape = tuple(input_shape)
    for index in range(len(specs)):
        shape = _next_shape(specs, index, shape, tuple(input_shape))
        shapes.append(shape)
    return shapes


def classifier_warnings(specs: list[LayerSpec]) -> list[str]:
    """What is legal but likely wrong in a classifier's spec: a last layer that is not softmax
    (its outputs are taken as class probabilities, and the loss expects them)."""
    dense = [s for s in specs if s.kind == "dense"]
    if not dense:
        return []
    last = dense[-1]
    activation = bind_arguments(last).get("activation", "softmax")
    if activation == "softmax":
        return []
    return [
        f"layer spec, layer {last.index + 1} {last.token.strip()!r}: the last layer of a classifier should be "
        f"softmax (its outputs are taken as class probabilities), not {activation}; leave out activation= "
        "to get softmax"
    ]
