"""Checks of a whole layer spec, before any model is built: each layer's output shape worked
out from the spec alone (so an impossible spec is explained in its own terms, not by a Keras
exception), and what is legal but likely wrong in a classifier.

Nothing here imports Keras. The arithmetic is the lecture's T = ⌊(N + 2P − K)/S⌋ + 1, with
P = 0 for ``valid``, P zeros for a number, and T = ⌈N/S⌉ for ``same`` (as Keras pads). Sizes
and strides may differ between height and width (``strides=(2, 1)``).
"""

from __future__ import annotations

from typing import Any

from ..errors import input_error, warn
from ..i18n import tr
from .layerspec import LayerSpec, bind_arguments, spec_error
from .specsyntax import as_pair


def _window(spec: LayerSpec, bound: dict[str, Any]) -> tuple[tuple[int, int], tuple[int, int], str | int]:
    """A conv or pooling layer's window size and stride (height, width) and its padding, with
    Keras's defaults."""
    if spec.kind == "conv":
        return as_pair(bound["kernel"]), as_pair(bound.get("strides", 1)), bound.get("padding", "valid")
    size = bound.get("size", 2)
    return as_pair(size), as_pair(bound.get("strides", size)), bound.get("padding", "valid")


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def _after(specs: list[LayerSpec], index: int, shape: tuple[int, ...]) -> str:
    """What a layer receives, in the spec's terms: "the 28×28×1 input" or "the 2×2×8 output of layer 3 'pool(3)'"."""
    if index == 0:
        return tr("the {shape} input").format(shape=_shape_text(shape))
    before = specs[index - 1]
    message = tr("the {shape} output of layer {number} {layer!r}")
    return message.format(shape=_shape_text(shape), number=index, layer=before.token.strip())


def _next_shape(
    specs: list[LayerSpec], index: int, shape: tuple[int, ...], input_shape: tuple[int, ...]
) -> tuple[int, ...]:
    """The output shape of layer ``index`` given its input ``shape`` (Keras's arithmetic)."""
    spec = specs[index]
    bound = bind_arguments(spec)
    if spec.kind in ("conv", "pool", "avgpool", "gap") and len(shape) != 3:
        message = tr("{kind} needs a height×width×channels map, but gets {received}")
        raise spec_error(spec, message.format(kind=spec.kind, received=_after(specs, index, shape)))
    if spec.kind in ("conv", "pool", "avgpool"):
        kernel, strides, padding = _window(spec, bound)
        p = padding if isinstance(padding, int) else 0
        if padding == "same":
            sizes = [-(-n // s) for n, s in zip(shape[:2], strides)]
        else:
            sizes = [(n + 2 * p - k) // s + 1 for n, k, s in zip(shape[:2], kernel, strides)]
        out = (*sizes, bound["filters"] if spec.kind == "conv" else shape[2])
        if min(sizes) < 1:
            axis = sizes.index(min(sizes))
            n, k, s = shape[axis], kernel[axis], strides[axis]
            padded = f"{n} + 2·{p} − {k}" if p else f"{n} − {k}"
            raise spec_error(
                spec,
                tr(
                    "its {height}×{width} window does not fit {received}: ⌊({padded})/{stride}⌋ + 1 = {size}, so "
                    "its output would be empty (the input {input} is too small for this model); use a smaller "
                    "size, padding=same, or fewer pooling or conv layers before it"
                ).format(
                    height=kernel[0],
                    width=kernel[1],
                    received=_after(specs, index, shape),
                    padded=padded,
                    stride=s,
                    size=sizes[axis],
                    input="×".join(map(str, input_shape)),
                ),
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
        tr(
            "layer spec, layer {number} {layer!r}: the last layer of a classifier should be softmax (its outputs "
            "are taken as class probabilities), not {activation}; leave out activation= to get softmax"
        ).format(number=last.index + 1, layer=last.token.strip(), activation=activation)
    ]


def declared_input_shape(specs: list[LayerSpec]) -> tuple[int, int, int] | str | None:
    """The input shape the spec itself declares (``Input(shape=(28, 28, 1))`` or
    ``input_shape=`` on the first layer) as (H, W, C); a Python name such as ``input_shape``
    (the lecture's ``input_shape=input_shape``) as that name; None when it declares none."""
    if not specs:
        return None
    shape = specs[0].kwargs.get("input_shape")
    if isinstance(shape, tuple):
        return (shape[0], shape[1], shape[2] if len(shape) == 3 else 1)
    return shape


def resolve_input_shape(
    specs: list[LayerSpec], given: tuple[int, int, int] | None, *, given_as: str, default: tuple[int, int, int]
) -> tuple[int, int, int]:
    """The input shape to build the spec for: ``given`` (the data's, or the caller's
    ``given_as``), else the spec's own, else ``default``. A spec declaring a shape that differs
    from ``given`` is an error; a name the spec cannot know (``input_shape=input_shape``) is
    read as ``given``, or as ``default`` with a warning that says how to choose."""
    declared = declared_input_shape(specs)
    if isinstance(declared, str):
        if given is not None:
            return given
        warn(
            tr(
                "layer spec: input_shape={declared} names a Python variable, which convcli does not run; taken as "
                "{shape} (give {given_as} for other images)"
            ).format(declared=declared, shape="x".join(map(str, default)), given_as=given_as)
        )
        return default
    if declared is not None and given is not None and tuple(declared) != tuple(given):
        raise input_error(
            tr(
                "layer spec: the layers declare the input shape {declared}, but {given_as} is {shape}; remove the "
                "declared shape or make the two agree"
            ).format(declared=declared, given_as=given_as, shape="x".join(map(str, given)))
        )
    return given or declared or default
