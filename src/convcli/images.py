"""Reading and writing images and matrices: files, stdin/stdout, size limits, pixel ranges.

Images are returned as float32 arrays holding 0–255 intensities, (H, W) for gray and
(H, W, 3) for colour, which is how the lecture writes them. Alpha is dropped; palette, CMYK and
1-bit images are converted; 16-bit images are scaled to 0–255.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import input_error, work_error
from .outputs import atomic_path, write_text
from .samples import load_sample

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image as PILImage

# numpy (~70 ms) and the text format are imported inside the functions that need them, so that
# `convcli gray` can decode, convert and encode in Pillow alone (see color.gray_image).

DEFAULT_MAX_PIXELS = 100_000_000
"""Images with more pixels than this are refused before decoding (decompression bombs)."""

MATRIX_SUFFIXES = {".txt", ".csv", ".tsv", ".mat", ".kernel"}
RAW_SUFFIXES = MATRIX_SUFFIXES | {".npy"}
RANGES = ("clip", "rescale", "abs", "raw")
"""How float results become 0–255 pixels (see :func:`to_uint8`); ``raw`` keeps the values, so
only ``.npy`` and text outputs can hold it."""


def is_raw_path(path: str | os.PathLike[str]) -> bool:
    """True when ``path``'s suffix names a raw numeric format (``.npy`` or a text matrix)."""
    return Path(path).suffix.lower() in RAW_SUFFIXES


def check_range(range_mode: str, *, pixels: bool = True) -> None:
    """Raise unless ``range_mode`` is one of :data:`RANGES` and fits the output: ``raw`` cannot
    become ``pixels`` (an image file or PNG on stdout)."""
    if range_mode not in RANGES:
        raise input_error(f"unknown range mode {range_mode!r}: use {', '.join(RANGES[:-1])} or {RANGES[-1]}")
    if pixels and range_mode == "raw":
        raise input_error("range mode 'raw' keeps values unmapped: write a .npy, .txt or .csv output")


def check_pixels(source: str, width: int, height: int, max_pixels: int) -> None:
    """Refuse an image of ``width``×``height`` over ``max_pixels`` (checked before decoding)."""
    if width * height > max_pixels:
        raise input_error(
            f"{source}: image is {width}×{height} = {width * height:,} pixels, over "
            f"the limit of {max_pixels:,} (raise max_pixels to allow it)"
        )


def _from_pil(image, source: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Convert a decoded Pillow image to a float32 0–255 array (gray or RGB)."""
    import numpy as np

    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(image, dtype=np.uint16).astype(np.float32) / 257.0
        return arr
    if mode == "I":
        arr = np.asarray(image, dtype=np.int64).astype(np.float64)
        hi = arr.max() if arr.size else 0
        if hi > 255:
            arr = arr * (255.0 / 65535.0) if hi <= 65535 else arr * (255.0 / hi)
        return np.clip(arr, 0, 255).astype(np.float32)
    if mode == "F":
        arr = np.asarray(image, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise input_error(f"{source}: image holds NaN or infinite values")
        return arr
    if mode in ("1", "L", "LA", "P;L"):
        return np.asarray(image.convert("L"), dtype=np.float32)
    if mode == "P":
        has_colour = image.convert("RGB")
        arr = np.asarray(has_colour, dtype=np.float32)
        if np.array_equal(arr[:, :, 0], arr[:, :, 1]) and np.array_equal(arr[:, :, 1], arr[:, :, 2]):
            return np.ascontiguousarray(arr[:, :, 0])
        return arr
    return np.asarray(image.convert("RGB"), dtype=np.float32)


def _open_image(data: bytes):  # type: ignore[no-untyped-def]
    """Open image bytes with Pillow; PNG and JPEG skip Pillow's plugin scan (~30 ms at start-up)."""
    from PIL import Image

    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        from PIL import PngImagePlugin

        return PngImagePlugin.PngImageFile(io.BytesIO(data))
    if data.startswith(b"\xff\xd8\xff"):
        from PIL import JpegImagePlugin

        return JpegImagePlugin.JpegImageFile(io.BytesIO(data))
    return Image.open(io.BytesIO(data))


@contextmanager
def _decoding(source: str) -> Iterator[None]:
    """Turn whatever Pillow raises on a damaged or hostile file into one input error."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on damaged files: we answer with errors
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except UnidentifiedImageError:
        raise input_error(f"{source}: not an image file (or a format Pillow cannot read)") from None
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        IndexError,
        TypeError,
        struct.error,
        MemoryError,
        Image.DecompressionBombError,
    ) as exc:
        detail = str(exc).strip() or type(exc).__name__
        raise input_error(f"{source}: cannot decode image ({detail})") from None


def open_image(data: bytes, source: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> PILImage.Image:
    """Decode image bytes into a loaded Pillow image (first frame), refusing images above
    ``max_pixels`` before any pixel is decoded. Needs no numpy."""
    from PIL import Image

    if not data:
        raise input_error(f"{source}: file is empty")
    with _decoding(source):
        Image.MAX_IMAGE_PIXELS = None
        image = _open_image(data)
        width, height = image.size
        check_pixels(source, width, height, max_pixels)
        if width < 1 or height < 1:
            raise input_error(f"{source}: image has no pixels")
        image.seek(0)
        image.load()
        return image
    raise AssertionError("unreachable")  # _decoding either returns inside or raises


def image_to_array(image: PILImage.Image, source: str) -> np.ndarray:
    """A decoded Pillow image as the float32 0–255 array every command works on."""
    with _decoding(source):
        return _from_pil(image, source)
    raise AssertionError("unreachable")


def decode_image(data: bytes, source: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode image bytes, refusing images above ``max_pixels`` before any pixel is decoded."""
    return image_to_array(open_image(data, source, max_pixels=max_pixels), source)


def read_bytes(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """Read a whole file (or stdin for ``-``), refusing files over ``limit`` bytes; OS errors
    become messages naming the file."""
    if str(path) == "-":
        data = sys.stdin.buffer.read()
        if not data:
            raise input_error("-: nothing on standard input")
        return data
    p = Path(path)
    try:
        if p.is_dir():
            raise input_error(f"{p}: is a folder, expected a file")
        if limit is not None and p.stat().st_size > limit:
            raise input_error(f"{p}: file is larger than {limit:,} bytes")
        return p.read_bytes()
    except FileNotFoundError:
        raise input_error(f"{p}: no such file") from None
    except PermissionError:
        raise input_error(f"{p}: permission denied") from None
    except OSError as exc:
        raise work_error(f"{p}: cannot read ({exc.strerror or exc})") from None


def read_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file (or ``-`` for stdin) as a float32 0–255 array, (H, W) or (H, W, 3)."""
    return decode_image(read_bytes(path), str(path), max_pixels=max_pixels)


def read_matrix(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a text matrix file (the kernel file format) as float32 (H, W) or (H, W, C)."""
    from .textformat import MAX_TEXT_BYTES, parse_matrix_text

    data = read_bytes(path, limit=MAX_TEXT_BYTES)
    return parse_matrix_text(decode_text(data, str(path)), str(path)).array


def decode_text(data: bytes, source: str) -> str:
    """Decode a text file's bytes as UTF-8 (a byte-order mark is dropped), naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise input_error(f"{source}: not a text file (byte {exc.start} is not UTF-8)") from None


def read_npy(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read a ``.npy`` array (no pickles) as float32 (H, W) or (H, W, C)."""
    import numpy as np

    data = read_bytes(path)
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError, TypeError) as exc:
        raise input_error(f"{path}: not a valid .npy file ({exc})") from None
    if array.dtype.kind not in "biuf":
        raise input_error(f"{path}: .npy holds {array.dtype}, expected numbers")
    if array.ndim not in (2, 3) or 0 in array.shape:
        raise input_error(f"{path}: .npy has shape {array.shape}, expected H×W or H×W×C")
    check_pixels(str(path), array.shape[1], array.shape[0], max_pixels)
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise input_error(f"{path}: array holds NaN or infinite values")
    return array


def read_input(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read any supported input by its suffix: image, ``.npy``, or text matrix."""
    suffix = Path(str(path)).suffix.lower()
    if suffix == ".npy":
        return read_npy(path, max_pixels=max_pixels)
    if suffix in MATRIX_SUFFIXES:
        return read_matrix(path)
    return read_image(path, max_pixels=max_pixels)


SAMPLE_PREFIX = "sample:"


def read_source(source: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an input: a path, ``-`` (stdin image bytes) or ``sample:NAME`` (bundled image)."""
    if source.startswith(SAMPLE_PREFIX):
        return load_sample(source[len(SAMPLE_PREFIX) :])
    return read_input(source, max_pixels=max_pixels)


def source_stem(source: str) -> str:
    """A short name for an input, used to name its outputs: file stem, sample name or 'stdin'."""
    if source.startswith(SAMPLE_PREFIX):
        return source[len(SAMPLE_PREFIX) :]
    if source == "-":
        return "stdin"
    return Path(source).stem


def to_uint8(array: np.ndarray, mode: str = "clip") -> np.ndarray:
    """Map float values to 0–255 pixels: ``clip`` (round, clamp), ``abs``, or ``rescale`` (min–max).

    ``raw`` is not a pixel mapping: raw values need a ``.npy`` or text output. Works in blocks of
    rows, so a 4096×4096 image needs a few megabytes of temporaries, not another full copy.
    """
    import numpy as np

    check_range(mode)
    arr = np.asarray(array, dtype=np.float32)
    lo = hi = 0.0
    if mode == "rescale" and arr.size:
        lo, hi = float(arr.min()), float(arr.max())
    out = np.empty(arr.shape, dtype=np.uint8)
    rows = max(1, (1 << 20) // max(1, arr[0].size if arr.ndim else 1))
    for start in range(0, max(1, arr.shape[0] if arr.ndim else 1), rows):
        block = arr[start : start + rows] if arr.ndim else arr
        if mode == "abs":
            work = np.abs(block)
        elif mode == "rescale" and hi > lo:
            work = (block - lo) * np.float32(255.0 / (hi - lo))
        else:
            work = block.copy()
        np.rint(work, out=work)
        np.clip(work, 0, 255, out=work)
        if arr.ndim:
            out[start : start + rows] = work
        else:
            out[...] = work
    return out


def encode_image(pixels: np.ndarray, fmt: str = "PNG", png_level: int = 6) -> bytes:
    """Encode a uint8 (H, W) or (H, W, 3) array in an image format (PNG by default).

    ``png_level`` is zlib's compression level for PNG (the pixels are the same at every level).
    """
    import numpy as np
    from PIL import Image

    return encode_pil(Image.fromarray(np.ascontiguousarray(pixels)), fmt, png_level)


def encode_pil(image: PILImage.Image, fmt: str = "PNG", png_level: int = 6) -> bytes:
    """Encode a Pillow image: JPEG at quality 95, PNG at zlib level ``png_level``."""
    buffer = io.BytesIO()
    if fmt.upper() in ("JPEG", "JPG"):
        image.save(buffer, format="JPEG", quality=95)
    elif fmt.upper() == "PNG":
        image.save(buffer, format="PNG", compress_level=png_level)
    else:
        image.save(buffer, format=fmt)
    return buffer.getvalue()


_COMMON_FORMATS = {
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
"""Suffixes answered without loading every Pillow plugin (which costs ~25 ms at start-up)."""


def image_format_for(path: str | os.PathLike[str]) -> str:
    """The Pillow format name for an output path's suffix, or a clear error."""
    from PIL import Image

    suffix = Path(str(path)).suffix.lower()
    if not suffix:
        raise input_error(f"{path}: output has no suffix; add one such as .png, .npy or .txt")
    fmt = _COMMON_FORMATS.get(suffix) or Image.registered_extensions().get(suffix)
    if fmt is None:
        raise input_error(
            f"{path}: unknown output format {suffix!r}; use an image suffix (.png, .jpg, .tif…), .npy, .txt or .csv"
        )
    return fmt


def write_array(
    path: str | os.PathLike[str],
    array: np.ndarray,
    *,
    range_mode: str = "clip",
    name: str | None = None,
    png_level: int = 6,
) -> Path:
    """Write ``array`` to ``path`` atomically, the format picked by the suffix.

    ``.npy`` stores raw float32; ``.txt``/``.csv`` the matrix text format (raw values); image
    suffixes get pixels mapped by ``range_mode``.
    """
    import numpy as np

    suffix = Path(str(path)).suffix.lower()
    if suffix == ".npy":
        with atomic_path(path) as tmp:
            np.save(tmp, np.asarray(array, dtype=np.float32), allow_pickle=False)
        return Path(path)
    if suffix in MATRIX_SUFFIXES:
        from .textformat import format_matrix

        return write_text(path, format_matrix(array, name=name))
    fmt = image_format_for(path)
    pixels = to_uint8(array, range_mode)
    if fmt == "JPEG" and pixels.ndim == 3 and pixels.shape[2] not in (1, 3):
        raise input_error(f"{path}: JPEG cannot hold {pixels.shape[2]} channels")
    try:
        data = encode_image(pixels, fmt, png_level)
    except (OSError, ValueError, KeyError) as exc:
        raise input_error(f"{path}: cannot encode as {fmt} ({exc})") from None
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
