"""Convolution as the lecture does it: one ``keras.layers.Conv2D`` whose weights are the kernels.

N kernels become one layer with N filters inside a ``keras.Sequential``; the layer is built
once and reused for every image of a batch. Like Keras (and the lecture), the operation is a
cross-correlation: the kernel is not flipped.

Two ways to apply 2-D kernels and one for 3-D ones:

* gray image, K×K kernels: one map per filter, (T, U);
* colour image, K×K kernels: each channel filtered separately, (T, U, C) per filter;
* K×K×C kernels: the filter spans the C channels, one (T, U) map per filter.

Output size (:func:`output_size`): T = (N + 2P − K) / S + 1 (floor), with P = 0 for ``valid``,
P zeros on each side for a number (the lecture's P = 1); ``same`` pads so that T = ceil(N / S),
as Keras does. The stride may differ between rows and columns (Keras's ``strides=(2, 1)``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import check_bounds, input_error
from ..i18n import tr
from .config import ACTIVATIONS, BORDERS, PADDINGS
from .kernels import Kernel

BAND_VALUES = 1 << 22
"""Input values (rows × width × channels) convolved in one layer call: larger images go in bands."""
_NUMPY_MODES = {"reflect": "reflect", "edge": "edge", "wrap": "wrap", "symmetric": "symmetric"}

Rows = np.ndarray | Callable[[np.ndarray], np.ndarray]
"""An image, or a function giving the float32 image rows at the given indices."""


def _bad(message: str, **fields: Any) -> Exception:
    """An input error: a translated ``message`` with its fields filled in."""
    return input_error(message.format(**fields))


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _bad(
            tr("unknown {name} {value!r}: use {choices}"), name=name, value=value, choices=tr(" or ").join(choices)
        )
    return value


def parse_padding(value: str | int) -> str | int:
    """``valid``, ``same``, or the lecture's P (``1``, ``"1"``): that many zeros on each side."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return check_bounds("padding", value, 0, 4096)
    if value in PADDINGS:
        return value
    raise _bad(tr("unknown padding {value!r}: use valid, same or a number P (zeros on each side)"), value=value)


def parse_stride(value: int | str | Sequence[int]) -> tuple[int, int]:
    """A stride S for both axes (``2``), or rows × columns (``"2x1"``, ``(2, 1)``), as a pair."""
    if isinstance(value, str):
        parts = value.lower().replace("×", "x").split("x")
        if not 1 <= len(parts) <= 2 or not all(p.strip().isdigit() for p in parts):
            raise input_error(tr("stride must be S or SxS (such as 2 or 2x1), got {value!r}").format(value=value))
        value = tuple(int(p) for p in parts)
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) == 1:
        pair = (pair[0], pair[0])
    if len(pair) != 2:
        raise input_error(tr("stride must be S or a pair (rows, columns), got {value!r}").format(value=value))
    return check_bounds("stride", int(pair[0]), 1), check_bounds("stride", int(pair[1]), 1)


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
        raise _bad(tr("kernel of size {k} does not fit an input of {n} padded by {padding}"), k=k, n=n, padding=padding)
    return (n + 2 * padding - k) // stride + 1


def pad_index(n: int, k: int, stride: int = 1, padding: str | int = "valid", border: str = "zero") -> np.ndarray:
    """Which of ``n`` image rows (or columns) each row of the padded input copies; -1 for zero.

    ``valid``: 0, 1, …, n − 1. ``same``: ⌈n / S⌉ outputs need (T − 1)·S + K rows, the missing ones
    split with the extra one after (as Keras). A number P: P rows before and after. The added
    rows are filled as numpy.pad's ``border`` mode fills them.
    """
    index = np.arange(n)
    if padding == "valid" or padding == 0:
        return index
    if isinstance(padding, int):
        before = after = padding
    else:
        outputs = -(-n // stride)
        total = max((outputs - 1) * stride + k - n, 0)
        before, after = total // 2, total - total // 2
    if border == "zero":
        return np.pad(index, (before, after), mode="constant", constant_values=-1)
    return np.pad(index, (before, after), mode=_NUMPY_MODES[border])  # type: ignore[call-overload]


@dataclass(frozen=True)
class Grid:
    """Where a layer's outputs fall on an image: the padded rows and columns (:func:`pad_index`),
    the output size (``height``×``width``), and the input each output is anchored to."""

    rows: np.ndarray
    cols: np.ndarray
    kernel: tuple[int, int]
    strides: tuple[int, int]
    height: int
    width: int

    def input_rows(self, start: int, stop: int) -> np.ndarray:
        """Image rows (-1: zero) that output rows ``start``…``stop − 1`` read: the band and its halo."""
        step = self.strides[0]
        return self.rows[start * step : (stop - 1) * step + self.kernel[0]]

    def anchor_rows(self, start: int, stop: int) -> np.ndarray:
        """The image row under each output row's kernel anchor (its centre; for even kernels the
        cell before the centre): the grid alpha planes are sampled on."""
        step = self.strides[0]
        first = start * step + (self.kernel[0] - 1) // 2
        return self.rows[first : first + (stop - start - 1) * step + 1 : step]

    def anchor_cols(self) -> np.ndarray:
        """The image column under each output column's kernel anchor."""
        step = self.strides[1]
        first = (self.kernel[1] - 1) // 2
        return self.cols[first : first + (self.width - 1) * step + 1 : step]

    def bands(
        self, values_per_row: int, band_values: int = BAND_VALUES, *, rows: int | None = None
    ) -> list[tuple[int, int]]:
        """Output rows in bands of ``rows`` rows, by default as many as keep a band's input (with
        its halo) near ``band_values`` values: (start, stop) pairs."""
        if rows is None:
            rows_fit = max(band_values // max(1, values_per_row), self.kernel[0])
            rows = (rows_fit - self.kernel[0]) // self.strides[0] + 1
        step = max(1, rows)
        return [(start, min(start + step, self.height)) for start in range(0, self.height, step)]


def gather(image: Rows, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The padded block of ``image`` at ``rows`` × ``cols`` (-1: zero), as float32."""
    take = np.maximum(rows, 0)
    if callable(image):
        block = image(take)
    elif len(take) and np.array_equal(take, np.arange(take[0], take[0] + len(take))):
        block = image[take[0] : take[0] + len(take)]  # a view: no copy before the layer's own
    else:
        block = image[take]
    if not np.array_equal(cols, np.arange(block.shape[1])):
        block = block[:, np.maximum(cols, 0)]
    if rows.min(initial=0) < 0 or cols.min(initial=0) < 0:
        block = np.array(block, dtype=np.float32)
        block[rows < 0] = 0
        block[:, cols < 0] = 0
    return np.asarray(block, dtype=np.float32)


class Convolver:
    """A single-layer ``keras.Sequential`` holding one Conv2D whose filters are ``kernels``.

    Build once, apply to many images (of any size and of the right channel count).
    """

    def __init__(
        self,
        kernels: Sequence[Kernel],
        *,
        stride: int | str | tuple[int, int] = 1,
        padding: str | int = "valid",
        activation: str = "linear",
        bias: float | None = None,
        border: str = "zero",
    ) -> None:
        if not kernels:
            raise input_error(tr("no kernel given: name at least one kernel or kernel file"))
        self.strides = parse_stride(stride)
        self.padding = parse_padding(padding)
        self.activation = _choice("activation", activation, ACTIVATIONS)
        self.border = _choice("border", border, BORDERS)
        if self.border != "zero" and self.padding in ("valid", 0):  # valid adds no border to fill
            message = tr("border {border!r} fills the padding of padding 'same' or P: use padding 'same' or a number")
            raise _bad(message, border=border)
        shapes = {k.weights.shape for k in kernels}
        if len(shapes) > 1:
            listed = ", ".join(f"{k.name} {k.size}" for k in kernels)
            message = tr(
                "kernels of different sizes cannot share one Conv2D layer ({listed}); run them in separate calls"
            )
            raise _bad(message, listed=listed)
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
        self._exact: Any = None
        self._lock = threading.Lock()

    @property
    def integer(self) -> bool:
        """Whether every weight is an integer and the kernels are 2-D: such a layer can give
        exact results on a gray picture split into integer planes (see :meth:`apply_many`)."""
        return self.depth is None and bool(np.all(self.weights == np.round(self.weights)))

    def build_quietly(self) -> None:
        """Build the layer now (used to overlap the Keras import with decoding); errors wait."""
        with contextlib.suppress(Exception):
            _ = self.model

    @property
    def model(self) -> Any:
        """The ``keras.Sequential`` (built on first use, so construction stays cheap)."""
        with self._lock:
            return self._build()

    @property
    def exact_model(self) -> Any:
        """The same Conv2D without bias and activation: they are applied after the integer
        planes of a split gray input are joined (:meth:`_join`)."""
        with self._lock:
            if self._exact is None:
                self._exact = self._new_model("linear", np.zeros_like(self.biases))
            return self._exact

    def _build(self) -> Any:
        if self._model is None:
            self._model = self._new_model(self.activation, self.biases)
        return self._model

    def _new_model(self, activation: str, biases: np.ndarray) -> Any:
        """A ``keras.Sequential`` of the one Conv2D with these weights, ``activation`` and ``biases``."""
        from ..backend import keras

        k = keras()
        in_channels = self.weights.shape[2]
        model = k.Sequential(
            [
                k.Input(shape=(None, None, in_channels)),
                k.layers.Conv2D(
                    filters=self.weights.shape[3],
                    kernel_size=self.kernel_shape,
                    strides=self.strides,
                    padding="valid",  # the input comes padded (see gather)
                    activation=activation,
                    use_bias=True,
                    name="conv",
                ),
            ],
            name="convcli_filter",
        )
        model.layers[0].set_weights([self.weights, biases])
        return model

    def check(self, shape: tuple[int, ...], source: str = "input") -> None:
        """Raise a clear error if an image of ``shape`` cannot go through this layer."""
        height, width = shape[0], shape[1]
        channels = shape[2] if len(shape) == 3 else 1
        if self.depth is not None and channels != self.depth:
            kernel = "×".join(str(n) for n in (*self.kernel_shape, self.depth))
            message = tr("{source}: has {channels} channel(s) but the kernel is {kernel}")
            raise _bad(message, source=source, channels=channels, kernel=kernel)
        kh, kw = self.kernel_shape
        p = 0 if self.padding == "valid" else self.padding
        if isinstance(p, int) and (kh > height + 2 * p or kw > width + 2 * p):
            padded = tr("padded by {p}").format(p=p) if p else tr("with padding 'valid'")
            message = tr(
                "{source}: kernel {kh}×{kw} is larger than the image {height}×{width} {padded} (use padding 'same')"
            )
            raise _bad(message, source=source, kh=kh, kw=kw, height=height, width=width, padded=padded)

    def _as_batch(self, arr: np.ndarray) -> np.ndarray:
        """The layer's input for one image: (1, H, W, C), or one gray image per channel."""
        if self.depth is not None:
            return arr[None, ...]
        if arr.ndim == 2:
            return arr[None, :, :, None]
        return np.ascontiguousarray(np.moveaxis(arr, 2, 0))[..., None]

    def grid(self, shape: tuple[int, ...]) -> Grid:
        """The padded rows and columns, and the output size, for an image of ``shape``."""
        (kh, kw), (sh, sw) = self.kernel_shape, self.strides
        height, width = shape[0], shape[1]
        return Grid(
            pad_index(height, kh, sh, self.padding, self.border),
            pad_index(width, kw, sw, self.padding, self.border),
            (kh, kw),
            (sh, sw),
            output_size(height, kh, sh, self.padding),
            output_size(width, kw, sw, self.padding),
        )

    def apply(self, image: np.ndarray, source: str = "input") -> list[np.ndarray]:
        """Run ``image`` (H, W) or (H, W, C) through the layer: one map per kernel, (T, U) or,
        for a colour image filtered per channel, (T, U, C)."""
        return self.apply_many([image], [source])[0]

    def apply_many(
        self, images: Sequence[np.ndarray], sources: Sequence[str], den: int | None = None
    ) -> list[list[np.ndarray]]:
        """Run images of one shape through the layer in a single call (a batch); per image, one
        map per kernel. Images of different shapes go through one call each. ``den``: the images
        are split gray (H, W, 2) planes (:func:`~convcli.imaging.color.gray_split`), joined
        after the layer into exact (H, W) maps for integer kernels."""
        arrays = []
        for image, source in zip(images, sources):
            arr = np.asarray(image, dtype=np.float32)
            if arr.ndim not in (2, 3):
                raise _bad(
                    tr("{source}: expected an H×W or H×W×C array, got shape {shape}"), source=source, shape=arr.shape
                )
            self.check(arr.shape, source)
            arrays.append(arr)
        if len({a.shape for a in arrays}) > 1:
            return [self.apply_many([a], [src], den)[0] for a, src in zip(arrays, sources)]
        grid = self.grid(arrays[0].shape)
        return self._run([gather(a, grid.rows, grid.cols) for a in arrays], den)

    def apply_band(self, image: Rows, grid: Grid, start: int, stop: int, den: int | None = None) -> list[np.ndarray]:
        """Output rows ``start``…``stop − 1`` of every kernel's map, computed from only the input
        rows they read (the band and its halo of K − S rows): equal to those rows of the whole
        image's result. ``image`` may be a function returning rows by index (see :data:`Rows`)."""
        return self._run([gather(image, grid.input_rows(start, stop), grid.cols)], den)[0]

    def _join(self, planes: np.ndarray, den: int, index: int) -> np.ndarray:
        """Filter ``index``'s exact map from a split gray input's two maps (2, T, U): quotient +
        remainder / den in float64 (both sums of integers, exact in float32 below 2^24), then
        the bias and activation; back to float32, where halves such as 5.5 stay exact."""
        joined = planes[0].astype(np.float64) + planes[1].astype(np.float64) / den + float(self.biases[index])
        if self.activation == "relu":
            np.maximum(joined, 0.0, out=joined)
        return joined.astype(np.float32)

    def _run(self, blocks: list[np.ndarray], den: int | None = None) -> list[list[np.ndarray]]:
        """Run padded blocks of one shape through the layer: per block, one map per kernel."""
        parts = [self._as_batch(b) for b in blocks]
        batch = parts[0] if len(parts) == 1 else np.concatenate(parts)
        del parts
        out = (self.model if den is None else self.exact_model)(batch, training=False)
        if hasattr(out, "detach"):  # PyTorch: leave the autograd graph, come back to the CPU
            out = out.detach().cpu()
        out = np.asarray(out, dtype=np.float32)  # (B, T, U, N); no copy for TensorFlow and JAX on CPU
        per_image = len(out) // len(blocks)
        results = []
        for i, block in enumerate(blocks):
            mine = out[i * per_image : (i + 1) * per_image]
            outputs = []
            for index in range(self.weights.shape[3]):
                plane = mine[..., index]  # (channels or 1, T, U)
                if den is not None:
                    outputs.append(self._join(plane, den, index))
                elif self.depth is None and block.ndim == 3:
                    outputs.append(np.ascontiguousarray(np.moveaxis(plane, 0, -1)))
                else:
                    outputs.append(np.ascontiguousarray(plane[0]))
            results.append(outputs)
        return results


def convolve(
    image: np.ndarray,
    kernels: Sequence[Kernel] | Kernel,
    *,
    stride: int | str | tuple[int, int] = 1,
    padding: str | int = "valid",
    activation: str = "linear",
    bias: float | None = None,
    border: str = "zero",
) -> list[np.ndarray]:
    """Convolve one image with one or more kernels through a Keras Conv2D; one array per kernel.

    Example: the lecture's 5×5 input with ``load_kernel("sharpen")`` gives a 3×3 map whose
    first row is 266, -61, -30.
    """
    ks = [kernels] if isinstance(kernels, Kernel) else list(kernels)
    conv = Convolver(ks, stride=stride, padding=padding, activation=activation, bias=bias, border=border)
    return conv.apply(image)
