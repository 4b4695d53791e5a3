"""Decoding image files with Pillow: hostile files, EXIF orientation, alpha and 16-bit colour.

A decoded file becomes a :class:`Picture`: its colour values in the file's own scale (0–255 for
8-bit files, 0–65535 for 16-bit ones), its alpha plane kept apart, and its bit depth. Every
image is turned upright by its EXIF orientation tag (``ImageOps.exif_transpose``), so what
convcli reads is what every viewer shows, and no output carries a stale tag.
"""

from __future__ import annotations

import io
import struct
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConvcliError, input_error, param
from ..i18n import tr
from ..i18n import tr as _

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image as PILImage

# numpy (~70 ms) is imported inside the functions that need it, so that `convcli gray` can
# decode, convert and encode in Pillow alone (see color.gray_image).

DEFAULT_MAX_PIXELS = 100_000_000
"""Images with more pixels than this are refused before decoding (decompression bombs)."""


@dataclass
class Picture:
    """A decoded image: ``colour`` (H, W) or (H, W, C) in the file's own scale, ``alpha`` (H, W)
    in the same scale or None, and ``depth``: 8 or 16 bits for image files, None for matrices
    (``.npy`` and text: values, not pixels, mapped to images as 0–255)."""

    colour: np.ndarray
    alpha: np.ndarray | None = None
    depth: int | None = 8
    source: str = "input"

    @property
    def peak(self) -> float:
        """The value of full intensity: 65535 for 16-bit pictures, else 255."""
        return 65535.0 if self.depth == 16 else 255.0

    @property
    def shape(self) -> tuple[int, ...]:
        """The colour's shape, (H, W) or (H, W, C)."""
        return tuple(self.colour.shape)

    def values(self) -> np.ndarray:
        """The colour as float32 0–255, alpha dropped (how predict and feature-maps see images)."""
        import numpy as np

        if self.depth == 16:
            return self.colour.astype(np.float32) / 257.0
        return np.asarray(self.colour, dtype=np.float32)


def check_pixels(source: str, width: int, height: int, max_pixels: int) -> None:
    """Refuse an image of ``width``×``height`` over ``max_pixels`` (checked before decoding)."""
    if width * height > max_pixels:
        raise input_error(
            tr(
                "{source}: image is {width}×{height} = {pixels:,} pixels, over the limit of {limit:,} "
                "(raise max_pixels to allow it)"
            ).format(source=source, width=width, height=height, pixels=width * height, limit=max_pixels)
        )


@contextmanager
def decoding(source: str) -> Iterator[None]:
    """Turn whatever Pillow raises on a damaged or hostile file into one input error."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on damaged files: we answer with errors
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except UnidentifiedImageError:
        raise input_error(_("{path}: not an image file (or a format Pillow cannot read)").format(path=source)) from None
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        IndexError,
        TypeError,
        KeyError,
        struct.error,
        MemoryError,
        Image.DecompressionBombError,
    ) as exc:
        detail = str(exc).strip() or type(exc).__name__
        raise input_error(tr("{source}: cannot decode image ({detail})").format(source=source, detail=detail)) from None


def _open(data: bytes):  # type: ignore[no-untyped-def]
    """Open image bytes with Pillow; PNG and JPEG skip Pillow's plugin scan (~30 ms at start-up)."""
    from PIL import Image

    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        from PIL import PngImagePlugin

        return PngImagePlugin.PngImageFile(io.BytesIO(data))
    if data.startswith(b"\xff\xd8\xff"):
        from PIL import JpegImagePlugin

        return JpegImagePlugin.JpegImageFile(io.BytesIO(data))
    return Image.open(io.BytesIO(data))


def _frame_index(source: str, frames: int, frame: int | None) -> int:
    """Which of a file's ``frames`` to read: ``frame``, checked; ``None`` refuses a file of several
    frames rather than silently keep the first one."""
    if frame is None:
        if frames > 1:
            raise input_error(
                tr(
                    "{source}: holds {frames} frames (an animation or a multi-page file) and one picture is "
                    "read: choose it with {flag} N (0 to {last})"
                ).format(source=source, frames=frames, flag=param("frame"), last=frames - 1)
            )
        return 0
    if not 0 <= frame < frames:
        raise input_error(
            tr("{source}: has {frames} frame(s): {value} must be 0 to {value2}, got {frame}").format(
                source=source, frames=frames, value=param("frame"), value2=frames - 1, frame=frame
            )
        )
    return frame


def _seek_frame(image, source: str, frame: int | None) -> None:  # type: ignore[no-untyped-def]
    """Go to ``frame`` of an animated GIF, multi-page TIFF, APNG or animated WebP (see
    :func:`_frame_index`)."""
    frames = int(getattr(image, "n_frames", 1) or 1)
    if image.format == "MPO":  # a phone's JPEG with a preview picture: the photo is frame 0
        frames = 1
    image.seek(_frame_index(source, frames, frame))


def _opened(data: bytes, source: str, max_pixels: int, frame: int | None = 0):  # type: ignore[no-untyped-def]
    """The image's header, checked against ``max_pixels``, at ``frame`` (see :func:`_seek_frame`);
    no pixel decoded yet."""
    from PIL import Image

    if not data:
        raise input_error(tr("{source}: file is empty").format(source=source))
    Image.MAX_IMAGE_PIXELS = None
    image = _open(data)
    width, height = image.size
    check_pixels(source, width, height, max_pixels)
    if width < 1 or height < 1:
        raise input_error(tr("{source}: image has no pixels").format(source=source))
    _seek_frame(image, source, frame)
    return image


def _upright(image: PILImage.Image) -> PILImage.Image:
    """Decode the pixels and apply the EXIF orientation in place (the tag is removed)."""
    from PIL import ImageOps

    image.load()
    ImageOps.exif_transpose(image, in_place=True)
    return image


def open_image(
    data: bytes, source: str, *, max_pixels: int = DEFAULT_MAX_PIXELS, frame: int | None = 0
) -> PILImage.Image:
    """Decode image bytes into a loaded, upright Pillow image (``frame``, see :func:`_seek_frame`),
    refusing images above ``max_pixels`` before any pixel is decoded. Needs no numpy."""
    with decoding(source):
        return _upright(_opened(data, source, max_pixels, frame))
    raise AssertionError("unreachable")  # decoding either returns inside or raises


# --------------------------------------------------------------------------- 16-bit colour

_OTHER_ORDER = {"B": "L", "L": "B", "N": "B" if sys.byteorder == "little" else "L"}


def _low_byte_rawmode(rawmode: str) -> str | None:
    """The raw mode that unpacks the low bytes of a 16-bit colour raw mode, or None.

    Pillow has no 16-bit colour mode: it unpacks 'RGB;16B' into 8-bit RGB from the high bytes.
    The same decoder (same filters, same bytes per pixel) with the opposite byte order unpacks
    the low bytes instead, so two decodes give every bit. 16-bit gray+alpha PNGs ('LA;16B',
    4 bytes a pixel) unpack whole as 8-bit 'RGBA': L high, L low, A high, A low.
    """
    if rawmode == "LA;16B":
        return "RGBA"
    for base in ("RGB;16", "RGBA;16"):
        if rawmode.startswith(base) and len(rawmode) == len(base) + 1 and rawmode[-1] in _OTHER_ORDER:
            return base + _OTHER_ORDER[rawmode[-1]]
    return None


def _with_rawmode(tile, rawmode: str):  # type: ignore[no-untyped-def]
    """``tile`` decoding with ``rawmode``. Tiles are (codec, extents, offset, args): a plain tuple
    before Pillow 11, a named tuple of the same fields since; both are read by position."""
    codec, extents, offset, args = tuple(tile)[:4]
    args = (rawmode, *args[1:]) if isinstance(args, tuple) else rawmode
    fields = (codec, extents, offset, args)
    return type(tile)(*fields) if hasattr(tile, "_fields") else fields


def _rawmode(tile) -> str:  # type: ignore[no-untyped-def]
    """A tile's raw mode ('' when its decoder takes other arguments, as GIF's does)."""
    args = tuple(tile)[3]
    mode = args[0] if isinstance(args, tuple) and args else args
    return mode if isinstance(mode, str) else ""


def _deep_colour(data: bytes, image, source: str) -> Picture | None:  # type: ignore[no-untyped-def]
    """A 16-bit colour (or gray+alpha) PNG or TIFF at full depth, or None for other images."""
    tiles = list(getattr(image, "tile", None) or []) if image.format in ("PNG", "TIFF") else []
    low_modes = [_low_byte_rawmode(_rawmode(t)) for t in tiles]
    if not tiles or None in low_modes:
        return None
    import numpy as np

    low = _open(data)
    low.seek(image.tell())
    low.tile = [_with_rawmode(t, m) for t, m in zip(tiles, low_modes)]  # type: ignore[arg-type]
    rest = np.asarray(_upright(low), dtype=np.uint16)
    if low_modes[0] == "RGBA":  # gray+alpha: every byte came out of the one decode
        return Picture((rest[..., 0] << 8) | rest[..., 1], (rest[..., 2] << 8) | rest[..., 3], 16, source)
    full = (np.asarray(_upright(image), dtype=np.uint16) << 8) | rest
    del rest
    if full.shape[2] == 4:
        return Picture(np.ascontiguousarray(full[..., :3]), np.ascontiguousarray(full[..., 3]), 16, source)
    return Picture(full, None, 16, source)


class _QuietLogger:
    """Raise one library logger's level to CRITICAL while a block runs (restored after)."""

    def __init__(self, name: str) -> None:
        import logging

        self.logger = logging.getLogger(name)
        self.level = self.logger.level

    def __enter__(self) -> None:
        self.logger.setLevel(50)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)


def _float_tiff(data: bytes, source: str, max_pixels: int, frame: int | None) -> Picture | None:
    """A floating-point TIFF (gray or colour, 16/32/64-bit, which Pillow reads only as 32-bit gray)
    read with tifffile as float32 values in their own scale, like a ``.npy``; None for other files."""
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    import numpy as np
    import tifffile

    quiet = _QuietLogger("tifffile")  # its log lines on damaged files would precede our one Error line
    try:
        with quiet, tifffile.TiffFile(io.BytesIO(data)) as tif:
            pages = tif.pages
            if not len(pages) or np.dtype(pages[0].dtype or np.uint8).kind != "f":
                return None
            page = pages[_frame_index(source, len(pages), frame)]
            check_pixels(source, int(page.imagewidth), int(page.imagelength), max_pixels)
            arr = np.asarray(page.asarray(), dtype=np.float32)
    except ConvcliError:
        raise
    except Exception:  # tifffile on damaged bytes raises struct.error, TypeError and more:
        return None  # Pillow then reads the file or names what is wrong with it
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3)):
        raise input_error(
            tr("{source}: float TIFF of shape {shape} is not supported").format(source=source, shape=arr.shape)
        )
    if not np.all(np.isfinite(arr)):
        raise input_error(tr("{source}: image holds NaN or infinite values").format(source=source))
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    return Picture(arr, None, None, source)


def open_deep_or_image(
    data: bytes, source: str, *, max_pixels: int = DEFAULT_MAX_PIXELS, frame: int | None = 0
) -> Picture | PILImage.Image:
    """A 16-bit colour file as a :class:`Picture`, any other image as a loaded, upright Pillow
    image (so 8-bit work can stay in Pillow, without numpy). ``frame``: see :func:`_seek_frame`.
    Floating-point TIFFs come as value pictures (depth None, see :func:`_float_tiff`)."""
    floats = _float_tiff(data, source, max_pixels, frame)
    if floats is not None:
        return floats
    with decoding(source):
        image = _opened(data, source, max_pixels, frame)
        deep = _deep_colour(data, image, source)
        return deep if deep is not None else _upright(image)
    raise AssertionError("unreachable")


def open_picture(data: bytes, source: str, *, max_pixels: int = DEFAULT_MAX_PIXELS, frame: int | None = 0) -> Picture:
    """Decode image bytes into an upright :class:`Picture`, keeping alpha and 16-bit depth
    (``frame``: see :func:`_seek_frame`; 0, the first, by default)."""
    opened = open_deep_or_image(data, source, max_pixels=max_pixels, frame=frame)
    if isinstance(opened, Picture):
        return opened
    with decoding(source):
        return picture_from_pil(opened, source)
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- modes


def _gray_if_equal(rgb: np.ndarray) -> np.ndarray:
    """An RGB array whose three planes are equal (a gray palette) as one plane."""
    import numpy as np

    if np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 1], rgb[:, :, 2]):
        return np.ascontiguousarray(rgb[:, :, 0])
    return rgb


def _int_image(image: PILImage.Image, source: str) -> np.ndarray:
    """A 32-bit integer image scaled to 0–255 (as float32): 0–65535 maps as 16 bits would."""
    import numpy as np

    arr = np.asarray(image, dtype=np.int64).astype(np.float64)
    hi = arr.max() if arr.size else 0
    if hi > 255:
        arr = arr * (255.0 / 65535.0) if hi <= 65535 else arr * (255.0 / hi)
    return np.clip(arr, 0, 255).astype(np.float32)


def _as_mode(image: PILImage.Image, mode: str) -> PILImage.Image:
    """``image`` in ``mode``, without the copy ``convert`` makes when it already is (large images)."""
    return image if image.mode == mode else image.convert(mode)


def picture_from_pil(image: PILImage.Image, source: str) -> Picture:
    """A decoded Pillow image as a :class:`Picture`: gray, gray+alpha, RGB or RGB+alpha.

    Palette images with a gray palette become gray; palette, CMYK, YCbCr and 1-bit images are
    converted; a palette or RGB image with a transparent colour gets its alpha plane.
    """
    import numpy as np

    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return Picture(np.asarray(image, dtype=np.uint16), None, 16, source)
    if mode == "I":
        return Picture(_int_image(image, source), None, 8, source)
    if mode == "F":
        arr = np.asarray(image, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise input_error(tr("{source}: image holds NaN or infinite values").format(source=source))
        return Picture(arr, None, None, source)
    if mode in ("1", "L", "P;L"):
        return Picture(np.asarray(_as_mode(image, "L"), dtype=np.uint8), None, 8, source)
    if mode in ("LA", "La"):
        la = np.asarray(image.convert("LA"), dtype=np.uint8)
        return Picture(np.ascontiguousarray(la[..., 0]), np.ascontiguousarray(la[..., 1]), 8, source)
    transparent = mode in ("P", "RGB") and "transparency" in image.info
    if mode in ("RGBA", "RGBa", "PA") or transparent:
        rgba = np.asarray(_as_mode(image, "RGBA"), dtype=np.uint8)
        colour = _gray_if_equal(rgba[..., :3]) if mode in ("P", "PA") else np.ascontiguousarray(rgba[..., :3])
        return Picture(colour, np.ascontiguousarray(rgba[..., 3]), 8, source)
    rgb = np.asarray(_as_mode(image, "RGB"), dtype=np.uint8)
    return Picture(_gray_if_equal(rgb) if mode == "P" else rgb, None, 8, source)
