"""One picture through the filter layer: alpha, depth, and bands of rows for large pictures.

Colour is premultiplied by alpha before the layer and divided by the output pixel's alpha after
it, so colour hidden under fully transparent pixels never reaches a visible output; the alpha
plane itself is not filtered but sampled on the output grid (the input pixel under each
output's kernel anchor: cropped by ``valid``, strided by S). A picture whose padded input holds
more than :data:`~convcli.filtering.convolution.BAND_VALUES` values goes through the layer in bands of
output rows, each read with its halo (:meth:`~convcli.filtering.convolution.Convolver.apply_band`), mapped
to pixels and written (PNG and ``.npy`` as the rows come; other formats gathered as 8- or 16-bit
pixels, a quarter or half of the float size) before the next band is computed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import input_error
from ..i18n import tr
from ..imaging.color import GRAY_RATIONAL, gray_split, to_gray
from ..imaging.decoding import Picture
from ..imaging.encoding import (
    Gathered,
    Spilled,
    check_quality,
    keep_or_flatten,
    npy_rows,
    output_depth,
    peak_of,
    png_rows,
    sinks_open,
    to_pixels,
    write_pixels,
)
from ..imaging.images import MATRIX_SUFFIXES, image_format_for, write_array
from .convolution import BAND_VALUES, Convolver, Grid

Targets = Callable[[str, list[np.ndarray]], list[tuple[Any, list[str], np.ndarray]]]
"""(source, one array per kernel) → (target, kernel names, array) per output: the filter job's naming."""


@dataclass
class Encoding:
    """How results become files: ``range_mode`` (see :func:`~convcli.imaging.encoding.to_pixels`), the
    output ``depth`` (None: the input's where the format has it), PNG's zlib level and JPEG's
    and WebP's ``quality`` (None: JPEG 95, WebP lossless; see :func:`~convcli.imaging.encoding.save_options`)."""

    range_mode: str = "clip"
    depth: int | None = None
    png_level: int = 1
    quality: int | None = None

    def __post_init__(self) -> None:
        check_quality(self.quality)


@dataclass
class Prepared:
    """A decoded input ready for the layer: its picture, output grid and bands, and (when one
    band holds it) the whole float32 input, computed in a reading thread."""

    source: str
    picture: Picture
    gray: bool
    grid: Grid
    bands: list[tuple[int, int]]
    whole: np.ndarray | None = None
    den: int | None = None
    """Set when the gray input goes through the layer as two exact integer planes (see
    :func:`~convcli.imaging.color.gray_split`): their denominator."""

    @property
    def shape(self) -> tuple[Any, ...]:
        """Inputs of one shape share layer calls; banded inputs go alone."""
        return tuple(self.whole.shape) if self.whole is not None else ("bands", id(self))

    def rows(self, index: np.ndarray) -> np.ndarray:
        """The layer's input at image rows ``index``: colour (gray if asked) times alpha / peak."""
        colour = self.picture.colour[index]
        if self.den is not None:
            split = gray_split(colour)
            if split is None:
                raise input_error(tr("{source}: expected integer pixels").format(source=self.source))
            return split[0]
        if self.gray and colour.ndim == 3:
            colour = to_gray(colour, source=self.source)
        colour = np.asarray(colour, dtype=np.float32)
        alpha = self.picture.alpha
        if alpha is not None:
            weight = alpha[index].astype(np.float32) / np.float32(self.picture.peak)
            colour = colour * (weight[..., None] if colour.ndim == 3 else weight)
        return colour

    def alpha(self, start: int, stop: int) -> np.ndarray | None:
        """The input's alpha (its own scale) on the output grid, rows ``start``…``stop − 1``."""
        if self.picture.alpha is None:
            return None
        return self.picture.alpha[self.grid.anchor_rows(start, stop)][:, self.grid.anchor_cols()]

    def stdout_pixels(self, array: np.ndarray, encoding: Encoding) -> np.ndarray:
        """A whole-image output's PNG pixels for stdout, with the input's alpha and depth."""
        return pixels_for("-", array, self.alpha(0, self.grid.height), self.picture.depth, encoding)

    def unpremultiply(self, maps: list[np.ndarray], start: int, stop: int) -> list[np.ndarray]:
        """Divide each map by its output pixels' alpha (0 where fully transparent)."""
        alpha = self.alpha(start, stop)
        if alpha is None:
            return maps
        weight = alpha.astype(np.float32) / np.float32(self.picture.peak)
        out = []
        for plane in maps:
            w = weight[..., None] if plane.ndim == 3 else weight
            out.append(np.divide(plane, w, out=np.zeros_like(plane), where=w > 0))
        return out


def prepare(picture: Picture, conv: Convolver, *, gray: bool, band_rows: int | None = None) -> Prepared:
    """Check ``picture`` against the layer and plan its bands (``band_rows`` output rows each,
    by default as many as :data:`~convcli.filtering.convolution.BAND_VALUES` allows); when one band holds
    it, the whole (unpadded) input is computed now."""
    shape = picture.shape
    if gray and len(shape) == 3:
        if shape[2] < 3:
            raise input_error(
                tr("{source}: expected an RGB image, got shape {shape}").format(source=picture.source, shape=shape)
            )
        shape = shape[:2]
    conv.check(shape, picture.source)
    grid = conv.grid(shape)
    exact = gray and len(picture.shape) == 3 and picture.alpha is None and picture.depth in (8, 16)
    den = GRAY_RATIONAL["luma"][1] if exact and conv.integer else None
    per_row = len(grid.cols) * (shape[2] if len(shape) == 3 else 2 if den else 1)
    bands = grid.bands(per_row, BAND_VALUES, rows=band_rows)
    prepared = Prepared(picture.source, picture, gray, grid, bands, den=den)
    if len(prepared.bands) == 1:
        prepared.whole = prepared.rows(np.arange(shape[0]))
        colour = picture.colour
        picture.colour = np.empty((0, *colour.shape[1:]), colour.dtype)  # only the float input is needed now
    return prepared


def output_format(target: str) -> str | None:
    """The image format of a target (PNG for ``-``), or None for raw outputs (matrices)."""
    if target is None or Path(str(target)).suffix.lower() in MATRIX_SUFFIXES | {".npy"}:
        return None
    return "PNG" if target == "-" else image_format_for(target)


def pixels_for(
    target: str,
    array: np.ndarray,
    alpha: np.ndarray | None,
    source_depth: int | None,
    encoding: Encoding,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """An output's pixels: mapped by the range mode to the output depth, alpha appended where
    the format keeps it."""
    fmt = output_format(target) or "PNG"
    bits = output_depth(str(target), fmt, source_depth, encoding.depth)
    peak = peak_of(source_depth)
    pixels = to_pixels(array, encoding.range_mode, peak=peak, depth=bits, value_range=value_range)
    if alpha is not None and (array.ndim == 2 or array.shape[2] == 3):
        pixels = keep_or_flatten(pixels, to_pixels(alpha, peak=peak, depth=bits), fmt, bits)
    return pixels


def write_whole(target: str, names: list[str], array: np.ndarray, prepared: Prepared, encoding: Encoding) -> None:
    """Write one whole-image output (in a writing thread)."""
    if output_format(target) is None:
        write_array(target, array, name=names[0] if len(names) == 1 else None)
        return
    alpha = prepared.alpha(0, prepared.grid.height)
    fmt = image_format_for(target)
    write_pixels(
        target,
        pixels_for(target, array, alpha, prepared.picture.depth, encoding),
        fmt,
        encoding.png_level,
        encoding.quality,
    )


# --------------------------------------------------------------------------- bands


@dataclass
class BandOutput:
    """One output of a banded picture: where it went, its kernels, shape and value range, and
    the array kept for stdout (raw values for ``None``, pixels for ``-``)."""

    target: str | None
    kernels: list[str]
    shape: tuple[int, ...]
    min: float = float("inf")
    max: float = float("-inf")
    array: np.ndarray | None = None


def _sink(
    target: Any, names: list[str], shape: tuple[int, ...], pixels: np.ndarray | None, encoding: Encoding, spill: bool
) -> Any:
    """Where one output's bands go: streamed for PNG and ``.npy``, gathered otherwise (in a
    temporary file beside the target with ``spill``: several outputs written at once)."""
    if pixels is None:  # raw values
        if target is None:
            return Gathered(shape, np.float32)
        if str(target).lower().endswith(".npy"):
            return npy_rows(target, shape)
        return Gathered(shape, np.float32, lambda a: write_array(target, a, name=names[0] if len(names) == 1 else None))
    full = (shape[0], *pixels.shape[1:])
    fmt = output_format(target)
    if target == "-":
        return Gathered(full, pixels.dtype)
    if fmt == "PNG":
        return png_rows(target, full, 16 if pixels.dtype == np.uint16 else 8, encoding.png_level)
    write = lambda px: write_pixels(target, px, str(fmt), encoding.png_level, encoding.quality)  # noqa: E731
    return Spilled(full, pixels.dtype, write, Path(target).parent) if spill else Gathered(full, pixels.dtype, write)


def _band_outputs(prepared: Prepared, conv: Convolver, targets: Targets, start: int, stop: int) -> list[tuple]:
    maps = conv.apply_band(prepared.rows, prepared.grid, start, stop, prepared.den)
    maps = prepared.unpremultiply(maps, start, stop)
    return targets(prepared.source, maps)


def _value_ranges(prepared: Prepared, conv: Convolver, targets: Targets) -> list[tuple[float, float]]:
    """Every output's min and max over all bands (``rescale`` needs them before any pixel)."""
    ranges: list[list[float]] = []
    for start, stop in prepared.bands:
        for i, (_, _, array) in enumerate(_band_outputs(prepared, conv, targets, start, stop)):
            if i == len(ranges):
                ranges.append([float("inf"), float("-inf")])
            ranges[i] = [min(ranges[i][0], float(array.min())), max(ranges[i][1], float(array.max()))]
    return [(lo, hi) for lo, hi in ranges]


def filter_bands(prepared: Prepared, conv: Convolver, targets: Targets, encoding: Encoding) -> list[BandOutput]:
    """Filter a large picture band by band, writing every output as its rows come."""
    ranges = _value_ranges(prepared, conv, targets) if encoding.range_mode == "rescale" else None
    first = _band_outputs(prepared, conv, targets, *prepared.bands[0])
    height, depth = prepared.grid.height, prepared.picture.depth
    outputs, sinks = [], []
    gathered = [t for t, _, _ in first if t != "-" and output_format(t) not in (None, "PNG")]
    for target, names, array in first:
        shape = (height, *array.shape[1:])
        raw = output_format(target) is None
        sample = None if raw else pixels_for(target, array[:1], prepared.alpha(0, 1), depth, encoding)
        outputs.append(BandOutput(target, names, shape))
        sinks.append(_sink(target, names, shape, sample, encoding, spill=len(gathered) > 1))
    with sinks_open(sinks):
        for number, (start, stop) in enumerate(prepared.bands):
            band = first if number == 0 else _band_outputs(prepared, conv, targets, start, stop)
            alpha = prepared.alpha(start, stop)
            for i, ((target, _, array), out, sink) in enumerate(zip(band, outputs, sinks)):
                out.min, out.max = min(out.min, float(array.min())), max(out.max, float(array.max()))
                if output_format(target) is None:
                    sink.add(array)
                else:
                    value_range = ranges[i] if ranges else None
                    sink.add(pixels_for(target, array, alpha, depth, encoding, value_range))
            del band
        colour = prepared.picture.colour  # every band is done: the input goes before outputs are encoded
        prepared.picture.colour = np.empty((0, *colour.shape[1:]), colour.dtype)
        del colour
    for out, sink in zip(outputs, sinks):
        if out.target in (None, "-"):
            out.array = sink.array
    return outputs
