"""Convolution as the lecture does it: one ``keras.layers.Conv2D`` whose weights are the kernels.

N kernels become one layer with N filters inside a ``keras.Sequential``; the layer is built
once and reused for every image of a batch. Like Keras (and the lecture), the operation is a
cross-correlation: the kernel is not flipped.

Two ways to apply 2-D kernels and one for 3-D ones:

* gray image, K×K kernels: one map per filter, (T, U);
* colour image, K×K kernels: each channel filtered separately, (T, U, C) per filter;
* K×K×C kernels: the filter spans the C channels, one (T, U) map per filter.

Output size (:func:`output_size`): T = (N + 2P − K) / S + 1 (floor), with P = 0 for ``valid``;
``same`` pads so that T = ceil(N / S), as Keras does.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import check_bounds, input_error
from .kernels import Kernel

PADDINGS = ("valid", "same")
"""Keras's padding names: ``valid`` (P = 0) and ``same`` (the output keeps ⌈N / S⌉)."""
ACTIVATIONS = ("linear", "relu")
"""The activations a filter layer may apply (the lecture shows maps before and after ReLU)."""


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise input_error(f"unknown {name} {value!r}: use {' or '.join(choices)}")
    return value


def output_size(n: int, k: int, stride: int = 1, padding: int | str = 0) -> int:
    """The lecture's formula T = (N + 2·P − K) / S + 1, with integer (floor) division.

    ``padding`` is P, or a Keras name: ``valid`` (P = 0) or ``same`` (T = ⌈N / S⌉ for any K).
    """
    check_bounds("stride", stride, 1)
    if isinstance(padding, str):
        if _choice("padding", padding, PADDINGS) == "same":
            return -(-n // stride)  # ⌈N / S⌉ in integers
        padding = 0
    if n + 2 * padding < k:
        raise input_error(f"kernel of size {k} does not fit an input of {n} padded by {padding}")
    return (n + 2 * padding - k) // stride + 1


class Convolver:
    """A single-layer ``keras.Sequential`` holding one Conv2D whose filters are ``kernels``.

    Build once, apply to many images (of any size and of the right channel count).
    """

    def __init__(
        self,
        kernels: Sequence[Kernel],
        *,
        stride: int = 1,
        padding: str = "valid",
        activation: str = "linear",
        bias: float | None = None,
    ) -> None:
        if not kernels:
            raise input_error("no kernel given: name at least one kernel or kernel file")
        self.stride = check_bounds("stride", stride, 1)
        self.padding = _choice("padding", padding, PADDINGS)
        self.activation = _choice("activation", activation, ACTIVATIONS)
        shapes = {k.weights.shape for k in kernels}
        if len(shapes) > 1:
            listed = ", ".join(f"{k.name} {k.size}" for k in kernels)
            raise input_error(
                f"kernels of different sizes cannot share one Conv2D layer ({listed}); run them in separate calls"
            )
        shape = next(iter(shapes))
        self.kernel_shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.depth: int | None = int(shape[2]) if len(shape) == 3 else None
        weights = np.stack(
            [k.weights if k.weights.ndim == 3 else k.weights[:, :, None] for k in kernels],
            axis=-1,
        ).astype(np.float32)
        biases = np.array([bias if bias is not None else (k.bias or 0.0) for k in kernels], dtype=np.float32)
        self.weights = weights  # (KH, KW, Cin, N): the Keras Conv2D kernel layout
        self.biases = biases
        self._model: Any = None
        self._lock = threading.Lock()

    def build_quietly(self) -> None:
        """Build the layer now (used to overlap the Keras import with decoding); errors wait."""
        with contextlib.suppress(Exception):
            _ = self.model

    @property
    def model(self) -> Any:
        """The ``keras.Sequential`` (built on first use, so construction stays cheap)."""
        with self._lock:
            return self._build()

    def _build(self) -> Any:
        if self._model is None:
            from .backend import keras

            k = keras()
            in_channels = self.weights.shape[2]
            model = k.Sequential(
                [
                    k.Input(shape=(None, None, in_channels)),
                    k.layers.Conv2D(
                        filters=self.weights.shape[3],
                        kernel_size=self.kernel_shape,
                        strides=self.stride,
                        padding=self.padding,
                        activation=self.activation,
                        use_bias=True,
                        name="conv",
                    ),
                ],
                name="convcli_filter",
            )
            model.layers[0].set_weights([self.weights, self.biases])
            self._model = model
        return self._model

    def check(self, shape: tuple[int, ...], source: str = "input") -> None:
        """Raise a clear error if an image of ``shape`` cannot go through this layer."""
        height, width = shape[0], shape[1]
        channels = shape[2] if len(shape) == 3 else 1
        if self.depth is not None and channels != self.depth:
            raise input_error(
                f"{source}: has {channels} channel(s) but the kernel is "
                f"{self.kernel_shape[0]}×{self.kernel_shape[1]}×{self.depth}"
            )
        kh, kw = self.kernel_shape
        if self.padding == "valid" and (kh > height or kw > width):
            raise input_error(
                f"{source}: kernel {kh}×{kw} is larger than the image {height}×{width} "
                "with padding 'valid' (use padding 'same')"
            )

    def _as_batch(self, arr: np.ndarray) -> np.ndarray:
        """The layer's input for one image: (1, H, W, C), or one gray image per channel."""
        if self.depth is not None:
            return arr[None, ...]
        if arr.ndim == 2:
            return arr[None, :, :, None]
        return np.ascontiguousarray(np.moveaxis(arr, 2, 0))[..., None]

    def apply(self, image: np.ndarray, source: str = "input") -> list[np.ndarray]:
        """Run ``image`` (H, W) or (H, W, C) through the layer: one map per kernel, (T, U) or,
        for a colour image filtered per channel, (T, U, C)."""
        return self.apply_many([image], [source])[0]

    def apply_many(self, images: Sequence[np.ndarray], sources: Sequence[str]) -> list[list[np.ndarray]]:
        """Run images of one shape through the layer in a single call (a batch); per image, one
        map per kernel. Images of different shapes go through one call each."""
        arrays = []
        for image, source in zip(images, sources):
            arr = np.asarray(image, dtype=np.float32)
            if arr.ndim not in (2, 3):
                raise input_error(f"{source}: expected an H×W or H×W×C array, got shape {arr.shape}")
            self.check(arr.shape, source)
            arrays.append(arr)
        if len({a.shape for a in arrays}) > 1:
            return [self.apply_many([a], [src])[0] for a, src in zip(arrays, sources)]
        parts = [self._as_batch(a) for a in arrays]
        batch = parts[0] if len(parts) == 1 else np.concatenate(parts)
        del parts
        out = self.model(batch, training=False)
        if hasattr(out, "detach"):  # PyTorch: leave the autograd graph, come back to the CPU
            out = out.detach().cpu()
        out = np.asarray(out, dtype=np.float32)  # (B, T, U, N); no copy for TensorFlow and JAX on CPU
        per_image = len(out) // len(arrays)
        results = []
        for i, arr in enumerate(arrays):
            mine = out[i * per_image : (i + 1) * per_image]
            outputs = []
            for index in range(self.weights.shape[3]):
                plane = mine[..., index]  # (channels or 1, T, U)
                if self.depth is None and arr.ndim == 3:
                    outputs.append(np.ascontiguousarray(np.moveaxis(plane, 0, -1)))
                else:
                    outputs.append(np.ascontiguousarray(plane[0]))
            results.append(outputs)
        return results


def convolve(
    image: np.ndarray,
    kernels: Sequence[Kernel] | Kernel,
    *,
    stride: int = 1,
    padding: str = "valid",
    activation: str = "linear",
    bias: float | None = None,
) -> list[np.ndarray]:
    """Convolve one image with one or more kernels through a Keras Conv2D; one array per kernel.

    Example: the lecture's 5×5 input with ``load_kernel("sharpen")`` gives a 3×3 map whose
    first row is 266, -61, -30.
    """
    ks = [kernels] if isinstance(kernels, Kernel) else list(kernels)
    conv = Convolver(ks, stride=stride, padding=padding, activation=activation, bias=bias)
    return conv.apply(image)
