"""The lecture's per-layer arithmetic: each layer's output shape and parameter count, with the
formula that gives it (``32·3·3·1 + 32 = 320``, ``(28 + 2·0 − 3)/1 + 1 = 26``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..i18n import N_

UNITS = N_("{units} units")
MEAN_OVER = N_("mean over {height}×{width} → {channels}")
UNCHANGED = N_("unchanged")
ZEROS = N_("{formula} (P zeros each side)")
NORM_PARAMS = N_("γ, β, mean, variance: 4·{channels} = {params} ({trainable} trainable)")
SHAPE_WORDS = (UNITS, MEAN_OVER, UNCHANGED, ZEROS, NORM_PARAMS)
"""The words in a shape formula (English in ``summary --json`` and the explain API; a table for a
person shows them through :func:`convcli.i18n.retranslate`, the explain page through its ``msg``)."""


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


def _same_padding(n: int, k: int, s: int) -> tuple[int, int]:
    """The zeros Keras's ``same`` adds before and after one axis: enough for ⌈N/S⌉ outputs,
    the odd one after."""
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _size_formula(n: int, k: int, s: int, padding: str | tuple[int, int]) -> str:
    """The lecture's T = (N + 2·P − K)/S + 1 written out for one axis of a conv or pooling
    layer, with the P actually added: ``(5 + 2·1 − 3)/2 + 1 = 3``.

    ``padding`` is ``valid`` (P = 0), ``same`` (the zeros Keras adds so that T = ⌈N/S⌉) or the
    (before, after) zeros of a ZeroPadding2D layer in front; unequal sides are written as
    ``(28 + 0 + 1 − 3)/2 + 1``. A division that is not exact shows its floor ⌊…⌋.
    """
    before, after = (0, 0) if padding == "valid" else _same_padding(n, k, s) if padding == "same" else padding
    pads = f"2·{before}" if before == after else f"{before} + {after}"
    core = f"({n} + {pads} − {k})/{s}"
    out = (n + before + after - k) // s + 1
    note = " (same: the odd zero after)" if padding == "same" and before != after else ""
    return (f"{core} + 1 = {out}" if (n + before + after - k) % s == 0 else f"⌊{core}⌋ + 1 = {out}") + note


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _shape_formula(
    layer: Any, in_shape: tuple[int, ...], out_shape: tuple[int, ...], zeros: tuple[Any, ...] | None = None
) -> str:
    """One layer's output shape as arithmetic. ``zeros``: the ((top, bottom), (left, right))
    of a ZeroPadding2D just before a conv, written as that conv's P on the unpadded N."""
    cls = type(layer).__name__
    if cls in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
        kh, kw = _pair(layer.kernel_size if cls == "Conv2D" else layer.pool_size)
        sh, sw = _pair(layer.strides)
        (nh, ph), (nw, pw) = (in_shape[0], layer.padding), (in_shape[1], layer.padding)
        if zeros is not None and layer.padding == "valid":
            (nh, ph), (nw, pw) = (in_shape[0] - sum(zeros[0]), zeros[0]), (in_shape[1] - sum(zeros[1]), zeros[1])
        fh, fw = _size_formula(nh, kh, sh, ph), _size_formula(nw, kw, sw, pw)
        return fh if fh == fw else f"{fh}; {fw}"
    if cls == "ZeroPadding2D":
        (top, bottom), (left, right) = layer.padding
        fh = f"{in_shape[0]} + 2·{top} = {out_shape[0]}" if top == bottom else f"{in_shape[0]} + {top} + {bottom}"
        fw = f"{in_shape[1]} + 2·{left} = {out_shape[1]}" if left == right else f"{in_shape[1]} + {left} + {right}"
        return ZEROS.format(formula=fh if fh == fw else f"{fh}; {fw}")
    if cls == "Flatten":
        return "·".join(str(d) for d in in_shape) + f" = {math.prod(in_shape)}"
    if cls == "Dense":
        return UNITS.format(units=layer.units)
    if cls == "GlobalAveragePooling2D":
        return MEAN_OVER.format(height=in_shape[0], width=in_shape[1], channels=in_shape[2])
    return UNCHANGED if in_shape == out_shape else ""


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
        return NORM_PARAMS.format(channels=c, params=params, trainable=2 * c)
    return "0" if params == 0 else str(params)


def describe_model(model: Any) -> list[LayerRow]:
    """Per-layer output shape and parameter count, each with the arithmetic that gives it."""
    rows: list[LayerRow] = []
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    zeros = None
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
                _shape_formula(layer, shape, out, zeros),
            )
        )
        zeros = tuple(map(tuple, layer.padding)) if type(layer).__name__ == "ZeroPadding2D" else None
        shape = out
    return rows
