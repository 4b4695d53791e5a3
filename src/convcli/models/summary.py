"""The lecture's per-layer arithmetic: each layer's output shape and parameter count, with the
formula that gives it (``32·3·3·1 + 32 = 320``, ``(28 + 2·0 − 3)/1 + 1 = 26``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..filtering.convolution import output_size


@dataclass
class LayerRow:
    """One row of ``convcli summary``: what a layer outputs and holds, and the arithmetic."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    params_formula: str
    shape_formula: str

    def as_json(self) -> dict[str, Any]:
        """The JSON object for ``summary --json``."""
        return {
            "name": self.name,
            "type": self.type,
            "output_shape": list(self.output_shape),
            "params": self.params,
            "params_formula": self.params_formula,
            "shape_formula": self.shape_formula,
        }


def _size_formula(n: int, k: int, s: int, padding: str) -> str:
    """T = (N + 2·P − K)/S + 1 written out for one axis of a conv or pooling layer.

    ``same`` padding with stride 1 and an odd kernel pads P = (K − 1)/2; otherwise Keras pads
    ``same`` so that T = ⌈N/S⌉, which is the formula with K = 1 and P = 0.
    """
    if padding == "same":
        if s == 1 and k % 2 == 1:
            p = (k - 1) // 2
            return f"({n} + 2·{p} − {k})/{s} + 1 = {output_size(n, k, s, p)}"
        return f"⌈{n}/{s}⌉ = {output_size(n, 1, s)} (same)"
    out = output_size(n, k, s)
    core = f"({n} + 2·0 − {k})/{s}"
    return f"{core} + 1 = {out}" if (n - k) % s == 0 else f"⌊{core}⌋ + 1 = {out}"


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _shape_formula(layer: Any, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> str:
    cls = type(layer).__name__
    if cls in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
        kh, kw = _pair(layer.kernel_size if cls == "Conv2D" else layer.pool_size)
        sh, sw = _pair(layer.strides)
        fh = _size_formula(in_shape[0], kh, sh, layer.padding)
        fw = _size_formula(in_shape[1], kw, sw, layer.padding)
        return fh if fh == fw else f"{fh}; {fw}"
    if cls == "Flatten":
        return "·".join(str(d) for d in in_shape) + f" = {math.prod(in_shape)}"
    if cls == "Dense":
        return f"{layer.units} units"
    if cls == "GlobalAveragePooling2D":
        return f"mean over {in_shape[0]}×{in_shape[1]} → {in_shape[2]}"
    return "unchanged" if in_shape == out_shape else ""


def _params_formula(layer: Any, in_shape: tuple[int, ...], params: int) -> str:
    cls = type(layer).__name__
    if cls == "Conv2D":
        kh, kw = _pair(layer.kernel_size)
        f, c = layer.filters, in_shape[-1]
        bias = f" + {f}" if layer.use_bias else ""
        return f"{f}·{kh}·{kw}·{c}{bias} = {params}"
    if cls == "Dense":
        n_in, units = in_shape[-1], layer.units
        bias = f" + {units}" if layer.use_bias else ""
        return f"{n_in}·{units}{bias} = {params}"
    if cls == "BatchNormalization":
        c = in_shape[-1]
        return f"4·{c} = {params} ({2 * c} trainable)"
    return "0" if params == 0 else str(params)


def describe_model(model: Any) -> list[LayerRow]:
    """Per-layer output shape and parameter count, each with the arithmetic that gives it."""
    rows: list[LayerRow] = []
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    for layer in model.layers:
        out = tuple(int(d) for d in layer.output.shape[1:])
        params = int(layer.count_params())
        rows.append(
            LayerRow(
                layer.name,
                type(layer).__name__,
                out,
                params,
                _params_formula(layer, shape, params),
                _shape_formula(layer, shape, out),
            )
        )
        shape = out
    return rows
