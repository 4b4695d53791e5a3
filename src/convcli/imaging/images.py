"""Reading and writing images and matrices: files, stdin/stdout, size limits, pixel ranges.

Images are returned as float32 arrays holding 0–255 intensities, (H, W) for gray and
(H, W, 3) for colour, which is how the lecture writes them (:func:`read_image`), or whole, as a
:class:`~convcli.imaging.decoding.Picture` keeping alpha and 16-bit depth (:func:`read_picture`). Every
image is read upright (EXIF orientation); palette, CMYK and 1-bit images are converted.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import input_error, no_such_file, work_error
from ..i18n import tr
from ..i18n import tr as _
from ..outputs import atomic_path, write_text
from .decoding import DEFAULT_MAX_PIXELS as DEFAULT_MAX_PIXELS
from .decoding import Picture, decoding, open_picture, picture_from_pil
from .decoding import check_pixels as check_pixels
from .decoding import open_image as open_image
from .encoding import IMAGE_SUFFIXES, keep_or_flatten, output_depth, peak_of, to_pixels, write_pixels
from .encoding import RANGES as RANGES
from .encoding import check_range as check_range
from .samples import load_sample

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image as PILImage

# numpy (~70 ms) and the text format are imported inside the functions that need them, so that
# `convcli gray` can decode, convert and encode in Pillow alone (see color.gray_image).

MATRIX_SUFFIXES = {".txt", ".csv", ".tsv", ".mat", ".kernel"}
RAW_SUFFIXES = MATRIX_SUFFIXES | {".npy"}


def is_raw_path(path: str | os.PathLike[str]) -> bool:
    """True when ``path``'s suffix names a raw numeric format (``.npy`` or a text matrix)."""
    return Path(path).suffix.lower() in RAW_SUFFIXES


def image_to_array(image: PILImage.Image, source: str) -> np.ndarray:
    """A decoded Pillow image as the float32 0–255 array every command works on."""
    with decoding(source):
        return picture_from_pil(image, source).values()
    raise AssertionError("unreachable")


def read_bytes(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """Read a whole file (or stdin for ``-``), refusing files over ``limit`` bytes; OS errors
    become messages naming the file."""
    if str(path) == "-":
        data = sys.stdin.buffer.read()
        if not data:
            raise input_error(tr("-: nothing on standard input"))
        return data
    p = Path(path)
    try:
        if p.is_dir():
            raise input_error(tr("{p}: is a folder, expected a file").format(p=p))
        if limit is not None and p.stat().st_size > limit:
            raise input_error(tr("{p}: file is larger than {limit:,} bytes").format(p=p, limit=limit))
        return p.read_bytes()
    except FileNotFoundError:
        raise input_error(no_such_file(p)) from None
    except PermissionError:
        raise input_error(tr("{p}: permission denied").format(p=p)) from None
    except OSError as exc:
        raise work_error(_("{path}: cannot read ({reason})").format(path=p, reason=exc.strerror or exc)) from None


def read_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file (or ``-`` for stdin) as a float32 0–255 array, (H, W) or (H, W, 3)."""
    return open_picture(read_bytes(path), str(path), max_pixels=max_pixels).values()


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
        raise input_error(
            tr("{source}: not a text file (byte {start} is not UTF-8)").format(source=source, start=exc.start)
        ) from None


def _read_npy(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read a ``.npy`` array (no pickles) as float32 (H, W) or (H, W, C)."""
    import numpy as np

    data = read_bytes(path)
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError, TypeError) as exc:
        raise input_error(tr("{path}: not a valid .npy file ({exc})").format(path=path, exc=exc)) from None
    if array.dtype.kind not in "biuf":
        raise input_error(tr("{path}: .npy holds {dtype}, expected numbers").format(path=path, dtype=array.dtype))
    if array.ndim not in (2, 3) or 0 in array.shape:
        raise input_error(
            tr("{path}: .npy has shape {shape}, expected H×W or H×W×C").format(path=path, shape=array.shape)
        )
    check_pixels(str(path), array.shape[1], array.shape[0], max_pixels)
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise input_error(tr("{path}: array holds NaN or infinite values").format(path=path))
    return array


def read_input(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read any supported input by its suffix: image, ``.npy``, or text matrix."""
    suffix = Path(str(path)).suffix.lower()
    if suffix == ".npy":
        return _read_npy(path, max_pixels=max_pixels)
    if suffix in MATRIX_SUFFIXES:
        return read_matrix(path)
    return read_image(path, max_pixels=max_pixels)


SAMPLE_PREFIX = "sample:"


def read_picture(source: str, *, max_pixels: int = DEFAULT_MAX_PIXELS, frame: int | None = 0) -> Picture:
    """Read an input whole: an image keeps its alpha and 16-bit depth (upright); samples are
    8-bit; ``.npy`` and text matrices are values (depth None). ``frame``: which frame of an
    animation or multi-page file (None: refuse such files rather than take the first)."""
    if source.startswith(SAMPLE_PREFIX):
        return Picture(load_sample(source[len(SAMPLE_PREFIX) :]), None, 8, source)
    suffix = Path(source).suffix.lower()
    if suffix == ".npy" or suffix in MATRIX_SUFFIXES:
        return Picture(read_input(source, max_pixels=max_pixels), None, None, source)
    return open_picture(read_bytes(source), source, max_pixels=max_pixels, frame=frame)


def source_stem(source: str) -> str:
    """A short name for an input, used to name its outputs: file stem, sample name or 'stdin'."""
    if source.startswith(SAMPLE_PREFIX):
        return source[len(SAMPLE_PREFIX) :]
    if source == "-":
        return "stdin"
    return Path(source).stem


def to_uint8(array: np.ndarray, mode: str = "clip") -> np.ndarray:
    """Map float values to 0–255 pixels, rounding half up: ``clip`` (clamp), ``abs``, or
    ``rescale`` (min–max); see :func:`convcli.imaging.encoding.to_pixels`."""
    return to_pixels(array, mode)


def encode_image(pixels: np.ndarray, fmt: str = "PNG", png_level: int = 6) -> bytes:
    """Encode a uint8 or uint16 (H, W), (H, W, 2), (H, W, 3) or (H, W, 4) array in an image
    format (PNG by default). ``png_level`` is zlib's level for PNG (same pixels at every level)."""
    from .encoding import encode_pixels

    return encode_pixels(pixels, fmt, png_level)


def encode_pil(image: PILImage.Image, fmt: str = "PNG", png_level: int = 6, quality: int | None = None) -> bytes:
    """Encode a Pillow image: PNG at zlib level ``png_level``, JPEG and WebP at ``quality``
    (see :func:`convcli.imaging.encoding.save_options`)."""
    from .encoding import save_options

    buffer = io.BytesIO()
    if fmt.upper() == "PNG":
        image.save(buffer, format="PNG", compress_level=png_level)
    else:
        image.save(buffer, format="JPEG" if fmt.upper() == "JPG" else fmt, **save_options(fmt, quality))
    return buffer.getvalue()


def image_format_for(path: str | os.PathLike[str]) -> str:
    """The Pillow format name for an output path's suffix, or a clear error."""
    from PIL import Image

    suffix = Path(str(path)).suffix.lower()
    if not suffix:
        raise input_error(tr("{path}: output has no suffix; add one such as .png, .npy or .txt").format(path=path))
    fmt = IMAGE_SUFFIXES.get(suffix) or Image.registered_extensions().get(suffix)
    if fmt is None:
        raise input_error(
            tr(
                "{path}: unknown output format {suffix!r}; use an image suffix (.png, .jpg, .tif…), .npy, .txt or .csv"
            ).format(path=path, suffix=suffix)
        )
    return fmt


def write_array(
    path: str | os.PathLike[str],
    array: np.ndarray,
    *,
    range_mode: str = "clip",
    name: str | None = None,
    png_level: int = 6,
    source_depth: int | None = 8,
    depth: int | None = None,
    alpha: np.ndarray | None = None,
) -> Path:
    """Write ``array`` to ``path`` atomically, the format picked by the suffix.

    ``.npy`` stores raw float32; ``.txt``/``.csv`` the matrix text format (raw values); image
    suffixes get pixels mapped by ``range_mode`` from the input's range (``source_depth`` bits)
    to ``depth`` bits (default: 16 for 16-bit inputs in PNG and TIFF, else 8), with ``alpha``
    (in the input's scale) as the last channel where the format keeps alpha.
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
    bits = output_depth(str(path), fmt, source_depth, depth)
    peak = peak_of(source_depth)
    pixels = to_pixels(array, range_mode, peak=peak, depth=bits)
    if alpha is not None:
        pixels = keep_or_flatten(pixels, to_pixels(alpha, peak=peak, depth=bits), fmt, bits)
    return write_pixels(path, pixels, fmt, png_level)


def bilinear(image: Any, size: tuple[int, int]) -> Any:
    """An 8-bit picture resized to ``size`` (width, height) with Pillow's bilinear filter, the
    horizontal pass first, then the vertical, each rounded to 8 bits. Why two calls: Pillow 13 may
    take the vertical pass first (1 gray level apart in places), so one call gives different
    pixels across Pillow versions and from the explain page's port."""
    from PIL import Image

    if image.width != size[0]:
        image = image.resize((size[0], image.height), Image.Resampling.BILINEAR)
    if image.height != size[1]:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return image
