"""Float results to 8- or 16-bit pixels by one rounding rule, and image files that keep their
alpha and depth, written whole or in bands of rows.

Rounding: every 8- and 16-bit output of every command rounds half up, ``floor(v + 0.5)``, then
clamps (``gray`` computes the same rule exactly in integers). Depth: PNG and TIFF keep 16 bits;
JPEG, BMP, GIF, WebP and PPM hold 8. Alpha: PNG, TIFF and WebP keep it; the others drop it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import input_error, warn
from ..i18n import tr
from ..outputs import atomic_path

if TYPE_CHECKING:
    import numpy as np

RANGES = ("clip", "rescale", "abs", "raw")
"""How float results become pixels (see :func:`to_pixels`); ``raw`` keeps the values, so only
``.npy`` and text outputs can hold it."""
DEPTHS = (8, 16)
"""Bits a channel of an image output can have."""
DEEP_FORMATS = ("PNG", "TIFF")
"""Formats that keep 16 bits a channel."""
ALPHA_FORMATS = ("PNG", "TIFF", "WEBP")
"""Formats that keep an alpha channel (the others get the colour alone)."""
IMAGE_SUFFIXES = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".gif": "GIF",
    ".webp": "WEBP",
    ".ppm": "PPM",
    ".pgm": "PPM",
}
"""Image suffixes and their Pillow formats, answered without loading every Pillow plugin (which
costs ~25 ms at start-up); an output path may also use any other suffix Pillow registers."""
OUTPUT_FORMATS = (*(suffix[1:] for suffix in IMAGE_SUFFIXES), "npy", "txt", "csv", "tsv")
"""The formats a folder of outputs can be written in (``filter``'s ``fmt``): images, raw float32
``.npy`` arrays and text matrices."""


def output_format(fmt: str | None, output: str | None = None) -> str:
    """``fmt`` as a name of :data:`OUTPUT_FORMATS` (default png; case and a leading dot ignored).
    Refused when unknown, or when given with an ``output`` file (or ``-``: PNG) whose suffix says
    another format: the two would disagree about what is written."""
    name = (fmt or "png").lower().lstrip(".")
    if name not in OUTPUT_FORMATS:
        raise input_error(
            tr("unknown output format {name!r}: use one of {choices}").format(
                name=name, choices=", ".join(OUTPUT_FORMATS)
            )
        )
    if fmt is not None and output is not None:
        suffix = ".png" if output == "-" else Path(output).suffix.lower()
        if IMAGE_SUFFIXES.get(suffix, suffix) != IMAGE_SUFFIXES.get(f".{name}", f".{name}"):
            where = "stdout (PNG)" if output == "-" else output
            raise input_error(
                tr("{where}: format {name!r} disagrees with the output's suffix; give one of the two").format(
                    where=where, name=name
                )
            )
    return name


def check_range(range_mode: str, *, pixels: bool = True, target: str = "") -> None:
    """Raise unless ``range_mode`` is one of :data:`RANGES` and fits the output: ``raw`` cannot
    become ``pixels`` (an image file or PNG on stdout). ``target`` names the output in the message."""
    where = f"{target}: " if target else ""
    if range_mode not in RANGES:
        message = tr("{where}unknown range mode {mode!r}: use {choices} or {last}")
        raise input_error(message.format(where=where, mode=range_mode, choices=", ".join(RANGES[:-1]), last=RANGES[-1]))
    if pixels and range_mode == "raw":
        message = tr("{where}range mode 'raw' keeps values unmapped: write a .npy, .txt or .csv output")
        raise input_error(message.format(where=where))
    if not pixels and range_mode in ("rescale", "abs"):  # a matrix output keeps the values: say so
        message = tr("{where}range mode {mode!r} maps values to pixels; a .npy, .txt or .csv output keeps them raw")
        warn(message.format(where=where, mode=range_mode))


def peak_of(depth: int | None) -> float:
    """Full intensity at ``depth`` bits: 65535 for 16, else 255 (matrices map as 8-bit)."""
    return 65535.0 if depth == 16 else 255.0


def output_depth(target: str, fmt: str, source_depth: int | None, depth: int | None = None) -> int:
    """Bits a channel for an image output: ``depth`` when given (16 only in PNG or TIFF), else
    16 for a 16-bit input written as PNG or TIFF, else 8."""
    if depth is not None and depth not in DEPTHS:
        raise input_error(tr("depth must be 8 or 16, got {depth}").format(depth=depth))
    if depth == 16 and fmt not in DEEP_FORMATS:
        raise input_error(
            tr("{target}: {fmt} holds 8 bits a channel; write .png or .tif for depth 16").format(target=target, fmt=fmt)
        )
    if depth is not None:
        return depth
    return 16 if source_depth == 16 and fmt in DEEP_FORMATS else 8


def to_pixels(
    values: np.ndarray,
    mode: str = "clip",
    *,
    peak: float = 255.0,
    depth: int = 8,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Map float values to ``depth``-bit pixels, rounding half up.

    ``clip``: clamp to the input's own range 0–``peak``; ``abs``: absolute value, then the same;
    ``rescale``: ``value_range`` (default: the values' min–max) onto the full range. Values in
    0–``peak`` are scaled to 0–255 or 0–65535 (16 → 8 bits divides by 257). Works in blocks of
    rows, so a 4096×4096 image needs a few megabytes of temporaries, not another full copy.
    """
    import numpy as np

    check_range(mode)
    arr = np.asarray(values, dtype=np.float32)
    out_peak = peak_of(depth)
    lo = hi = 0.0
    if mode == "rescale" and arr.size:
        lo, hi = value_range if value_range is not None else (float(arr.min()), float(arr.max()))
    out = np.empty(arr.shape, dtype=np.uint16 if depth == 16 else np.uint8)
    flat = arr.reshape(1, -1) if arr.ndim == 0 else arr
    target = out.reshape(1, -1) if arr.ndim == 0 else out
    rows = max(1, (1 << 20) // max(1, flat[0].size))
    for start in range(0, flat.shape[0], rows):
        block = flat[start : start + rows]
        if mode == "rescale" and hi > lo:
            work = (block - np.float32(lo)) * np.float32(out_peak / (hi - lo))
        else:
            work = np.abs(block) if mode == "abs" else block.copy()
            if mode != "rescale" and peak > out_peak:
                work /= np.float32(peak / out_peak)
            elif mode != "rescale" and peak < out_peak:
                work *= np.float32(out_peak / peak)
        work += np.float32(0.5)
        np.floor(work, out=work)
        np.clip(work, 0, out_peak, out=work)
        target[start : start + rows] = work
    return out


def keep_or_flatten(pixels: np.ndarray, alpha: np.ndarray | None, fmt: str, depth: int) -> np.ndarray:
    """Pixels ready for ``fmt``: alpha appended where the format keeps it, else the colour laid on
    white paper (``colour·a + white·(1 − a)``, as ``convert -background white -alpha remove``),
    so colour hidden under transparent pixels never shows in a JPEG or BMP."""
    import numpy as np

    if alpha is None:
        return pixels
    if fmt in ALPHA_FORMATS:
        return with_alpha(pixels, alpha)
    white = float((1 << depth) - 1)
    a = alpha.astype(np.float32) / np.float32(white)
    a = a[..., None] if pixels.ndim == 3 else a
    flat = pixels.astype(np.float32) * a + np.float32(white) * (np.float32(1) - a)
    return np.floor(flat + np.float32(0.5)).clip(0, white).astype(pixels.dtype)


def with_alpha(pixels: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Pixels with an alpha plane appended as the last channel (gray → gray+alpha, RGB → RGBA)."""
    import numpy as np

    if alpha is None:
        return pixels
    colour = pixels[..., None] if pixels.ndim == 2 else pixels
    return np.concatenate([colour, alpha[..., None].astype(pixels.dtype)], axis=-1)


def _write_tiff(out: BinaryIO, pixels: np.ndarray) -> None:
    """A TIFF through tifffile, uncompressed like Pillow's: 16-bit colour (Pillow writes 16-bit
    gray only), and 8-bit without Pillow's 4-bytes-a-pixel copy of the picture (300 → 400 MB at
    100 MP)."""
    import tifffile

    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    tifffile.imwrite(
        out,
        pixels,
        photometric="rgb" if channels >= 3 else "minisblack",
        extrasamples=("unassalpha",) if channels in (2, 4) else None,
    )


JPEG_QUALITY = 95
"""JPEG's quality when none is chosen (``--quality``)."""
LOSSLESS = 100
"""``--quality 100`` (and no ``--quality``) writes WebP lossless: the pixels come back exactly."""


def check_quality(quality: int | None) -> int | None:
    """Return ``quality`` if it is None or 1–100, else raise."""
    if quality is not None and not 1 <= quality <= 100:
        raise input_error(tr("quality must be 1–100, got {quality}").format(quality=quality))
    return quality


def save_options(fmt: str, quality: int | None = None) -> dict[str, Any]:
    """Pillow's save options for ``quality``: JPEG at ``quality`` (default :data:`JPEG_QUALITY`);
    WebP lossless (``exact``: colour under transparent pixels kept too) for None or 100, else
    lossy at ``quality``; nothing for other formats, which are lossless."""
    fmt = fmt.upper()
    if fmt in ("JPEG", "JPG"):
        return {"quality": JPEG_QUALITY if quality is None else quality}
    if fmt == "WEBP":
        if quality is None or quality >= LOSSLESS:
            return {"lossless": True, "quality": 100, "exact": True}
        return {"quality": quality}
    return {}


def encode_pixels(pixels: np.ndarray, fmt: str = "PNG", png_level: int = 6, quality: int | None = None) -> bytes:
    """Encode uint8 or uint16 pixels: (H, W) gray, (H, W, 2) gray+alpha, (H, W, 3) RGB, (H, W, 4)
    RGBA. 8-bit images and 16-bit gray PNGs go through Pillow; other 16-bit PNGs through
    :mod:`convcli.imaging.pngstream` and 16-bit TIFFs through tifffile (Pillow has no 16-bit colour)."""
    import io

    buffer = io.BytesIO()
    encode_into(buffer, pixels, fmt, png_level, quality)
    return buffer.getvalue()


def encode_into(out: BinaryIO, pixels: np.ndarray, fmt: str, png_level: int = 6, quality: int | None = None) -> None:
    """:func:`encode_pixels` straight into the binary file ``out`` (no copy of the encoded bytes in
    memory: a 100-MP TIFF is 300 MB)."""
    import numpy as np
    from PIL import Image

    fmt = fmt.upper()
    if fmt in ("TIFF", "TIF"):
        _write_tiff(out, pixels)
        return
    if pixels.dtype == np.uint16 and pixels.ndim == 3:
        from .pngstream import encode_png

        out.write(encode_png(pixels, png_level))
        return
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if fmt == "WEBP" and image.mode == "LA":
        image = image.convert("RGBA")
    if fmt == "PNG":
        image.save(out, format="PNG", compress_level=png_level)
    else:
        image.save(out, format="JPEG" if fmt == "JPG" else fmt, **save_options(fmt, quality))


def write_pixels(
    path: str | os.PathLike[str], pixels: np.ndarray, fmt: str, png_level: int = 6, quality: int | None = None
) -> Path:
    """Encode ``pixels`` as ``fmt`` (``quality``: see :func:`save_options`) and write them to
    ``path`` atomically."""
    if fmt == "JPEG" and pixels.ndim == 3 and pixels.shape[2] not in (1, 3):
        raise input_error(tr("{path}: JPEG cannot hold {n} channels").format(path=path, n=pixels.shape[2]))
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        try:
            encode_into(out, pixels, fmt, png_level, quality)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:  # the disk's (full, read-only): atomic_path names it
                raise
            raise input_error(
                tr("{path}: cannot encode as {fmt} ({exc})").format(path=path, fmt=fmt, exc=exc)
            ) from None
    return Path(path)


# --------------------------------------------------------------------------- bands of rows


class Gathered:
    """A sink that gathers bands of rows into one array, then hands it to ``finish`` (or keeps
    it in :attr:`array` when ``finish`` is None: results bound for stdout)."""

    def __init__(self, shape: tuple[int, ...], dtype: Any, finish: Any = None) -> None:
        import numpy as np

        self.array = np.empty(shape, dtype=dtype)
        self.row = 0
        self.finish = finish

    def add(self, rows: np.ndarray) -> None:
        """Copy the next rows in."""
        self.array[self.row : self.row + len(rows)] = rows
        self.row += len(rows)

    def close(self) -> None:
        """Hand the whole array to ``finish`` (and free it) when there is one."""
        if self.finish is not None:
            self.finish(self.array)
            self.array = None  # type: ignore[assignment]


class Spilled(Gathered):
    """A :class:`Gathered` whose rows wait in an unnamed temporary file in ``folder`` (the output's,
    on disk) instead of memory, read back whole only when closed: with several outputs written at
    once (JPEG, TIFF), one output's pixels are in memory at a time, not all of them."""

    def __init__(self, shape: tuple[int, ...], dtype: Any, finish: Any, folder: str | os.PathLike[str]) -> None:
        import tempfile

        import numpy as np

        self.shape, self.dtype, self.finish, self.row = shape, np.dtype(dtype), finish, 0
        self.file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (closed in close or abort)
        self.array = None  # type: ignore[assignment]

    def add(self, rows: np.ndarray) -> None:
        """Append the next rows to the file."""
        self.file.write(rows.astype(self.dtype, copy=False).tobytes())
        self.row += len(rows)

    def close(self) -> None:
        """Read the pixels back and hand them to ``finish``; the file goes."""
        import numpy as np

        try:
            self.file.seek(0)
            self.finish(np.fromfile(self.file, dtype=self.dtype).reshape(self.shape))
        finally:
            self.file.close()

    def abort(self, exc: BaseException) -> None:
        self.file.close()


class _Streamed:
    """A sink that writes rows into a temporary file as they come, renamed into place at the end."""

    def __init__(self, path: str | os.PathLike[str], start: Any) -> None:
        self.stack = contextlib.ExitStack()
        tmp = self.stack.enter_context(atomic_path(path))
        self.file = self.stack.enter_context(open(tmp, "wb"))  # noqa: SIM115 (closed by the stack)
        self.writer = start(self.file)

    def add(self, rows: np.ndarray) -> None:
        self.writer.add(rows)

    def close(self) -> None:
        self.writer.close()
        self.stack.close()

    def abort(self, exc: BaseException) -> None:
        self.stack.__exit__(type(exc), exc, exc.__traceback__)


class _NpyRows:
    """``.npy`` rows: the header for the whole shape first, then each band's float32 bytes."""

    def __init__(self, file: Any, shape: tuple[int, ...]) -> None:
        import numpy as np

        np.lib.format.write_array_header_1_0(
            file, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False, "shape": shape}
        )
        self.file = file

    def add(self, rows: np.ndarray) -> None:
        import numpy as np

        self.file.write(np.ascontiguousarray(rows, dtype=np.float32).tobytes())

    def close(self) -> None:
        """Nothing left to write."""


def png_rows(path: str | os.PathLike[str], shape: tuple[int, ...], depth: int, png_level: int) -> _Streamed:
    """A sink writing a PNG of ``shape`` (H, W[, C]) row band by row band."""
    from .pngstream import PngWriter

    channels = 1 if len(shape) == 2 else shape[2]
    return _Streamed(path, lambda file: PngWriter(file, shape[1], shape[0], channels, depth, png_level))


def npy_rows(path: str | os.PathLike[str], shape: tuple[int, ...]) -> _Streamed:
    """A sink writing a float32 ``.npy`` of ``shape`` row band by row band."""
    return _Streamed(path, lambda file: _NpyRows(file, shape))


@contextlib.contextmanager
def sinks_open(sinks: list[Any]) -> Iterator[list[Any]]:
    """Close every sink when the block succeeds; on an error, drop the partial files."""
    try:
        yield sinks
    except BaseException as exc:
        for sink in sinks:
            if hasattr(sink, "abort"):
                sink.abort(exc)
        raise
    for sink in sinks:
        sink.close()
