"""The lecture's worked example for one output pixel: patch ⊙ kernel, summed, plus bias.

Pure NumPy on a layer's input volume, so the numbers shown in the browser are computed
independently of the backend's convolution and can be checked against the layer's output.
Keras pads ``same`` layers with ``(total // 2)`` before and the rest after, and pooling ignores
padded positions; both rules are followed here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import input_error
from ..i18n import tr


def window_origin(index: int, size: int, out: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    """Input coordinate of the first tap for output ``index`` along one axis (may be negative)."""
    span = (kernel - 1) * dilation + 1
    pad_before = 0
    if padding == "same":
        pad_before = max((out - 1) * stride + span - size, 0) // 2
    return index * stride - pad_before


def _taps(volume: np.ndarray, row: int, col: int, geometry: dict[str, Any], out_hw: tuple[int, int]) -> np.ndarray:
    """The (KH, KW, C) input values under the window; positions outside the input are NaN."""
    kh, kw = geometry["kernel"]
    sh, sw = geometry["strides"]
    dh, dw = geometry.get("dilation", (1, 1))
    height, width, channels = volume.shape
    top = window_origin(row, height, out_hw[0], kh, sh, dh, geometry["padding"])
    left = window_origin(col, width, out_hw[1], kw, sw, dw, geometry["padding"])
    rows = top + dh * np.arange(kh)
    cols = left + dw * np.arange(kw)
    taps = np.full((kh, kw, channels), np.nan)
    inside_r = (rows >= 0) & (rows < height)
    inside_c = (cols >= 0) & (cols < width)
    taps[np.ix_(inside_r, inside_c)] = volume[np.ix_(rows[inside_r], cols[inside_c])]
    return taps


def check_position(row: Any, col: Any, out_hw: tuple[int, int], layer: str) -> tuple[int, int]:
    """Validate an output pixel position (whole numbers inside the map)."""
    for name, value, limit in (("row", row, out_hw[0]), ("col", col, out_hw[1])):
        if isinstance(value, bool) or not isinstance(value, int):
            raise input_error(tr("{name} must be a whole number, got {value}").format(name=name, value=repr(value)))
        if not 0 <= value < limit:
            message = tr("{name} {value} is outside {layer}'s {height}×{width} maps")
            raise input_error(message.format(name=name, value=value, layer=layer, height=out_hw[0], width=out_hw[1]))
    return int(row), int(col)


def conv_unit(
    volume: np.ndarray,
    kernel: np.ndarray,
    bias: float,
    row: int,
    col: int,
    geometry: dict[str, Any],
    out_hw: tuple[int, int],
) -> dict[str, Any]:
    """One Conv2D output before its activation: z = Σ patch ⊙ kernel + bias (float64).

    ``volume`` is the layer's input (H, W, C) and ``kernel`` one filter (KH, KW, C). Zero
    padding shows as 0 in the patch, with ``padded`` marking those positions.
    """
    taps = _taps(np.asarray(volume, np.float64), row, col, geometry, out_hw)
    padded = np.isnan(taps)
    patch = np.where(padded, 0.0, taps)
    products = patch * np.asarray(kernel, np.float64)
    channel_sums = products.sum(axis=(0, 1))
    total = float(channel_sums.sum())
    return {
        "patch": patch.transpose(2, 0, 1).tolist(),
        "padded": padded[:, :, 0].tolist(),
        "products": products.transpose(2, 0, 1).tolist(),
        "channel_sums": channel_sums.tolist(),
        "sum": total,
        "bias": float(bias),
        "z": total + float(bias),
    }


def pool_unit(
    volume: np.ndarray, channel: int, row: int, col: int, geometry: dict[str, Any], out_hw: tuple[int, int], op: str
) -> dict[str, Any]:
    """One pooling output: the window of channel ``channel`` and its max (or mean), padding ignored."""
    taps = _taps(np.asarray(volume, np.float64)[:, :, channel : channel + 1], row, col, geometry, out_hw)[:, :, 0]
    inside = taps[~np.isnan(taps)]
    value = float(inside.max()) if op == "max" else float(inside.mean())
    window = [[None if math.isnan(v) else float(v) for v in line] for line in taps]
    return {"window": window, "op": op, "pooled": value}


def activate(name: str, z: float) -> float | None:
    """The common activations applied to one number (None for ones not written out here)."""
    formulas = {
        "linear": lambda v: v,
        "relu": lambda v: max(v, 0.0),
        "sigmoid": lambda v: 1.0 / (1.0 + math.exp(-v)),
        "tanh": math.tanh,
        "relu6": lambda v: min(max(v, 0.0), 6.0),
    }
    formula = formulas.get(name)
    return None if formula is None else float(formula(z))
