"""Colour: RGB to gray by the lecture's formulas, and the R, G, B planes of an image.

Notes
-----
luma:    GRIS = 0.3 R + 0.59 G + 0.11 B     (the lecture's perceptual formula)
average: GRIS = (R + G + B) / 3              (the lecture's simple mean)
bt709:   Y = 0.2125 R + 0.7154 G + 0.0721 B  (skimage.color.rgb2gray's weights)
bt601:   Y = 0.299 R + 0.587 G + 0.114 B     (ITU-R BT.601 luma: Pillow's ``L``, OpenCV's gray)

bt601 rounded half up equals Pillow's ``convert("L")`` on all but 9,040 of the 2^24 colours:
Pillow uses 16-bit fixed-point weights (19595, 38470, 7471) / 65536, which put 8,319 exact
halves and 721 values within 0.001 of a half on the other side (each off by one).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import input_error
from ..i18n import tr

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image as PILImage

# numpy is imported inside the functions that use it: `convcli gray` on an 8-bit image works in
# Pillow alone and does not pay numpy's ~70 ms import (measured with hyperfine; see README).

GRAY_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "luma": (0.3, 0.59, 0.11),
    "average": (1 / 3, 1 / 3, 1 / 3),
    "bt709": (0.2125, 0.7154, 0.0721),
    "bt601": (0.299, 0.587, 0.114),
}
GRAY_RATIONAL: dict[str, tuple[tuple[int, int, int], int]] = {
    "luma": ((30, 59, 11), 100),
    "average": ((1, 1, 1), 3),
    "bt709": ((2125, 7154, 721), 10000),
    "bt601": ((299, 587, 114), 1000),
}
"""The same weights as exact fractions, so 8-bit pixels round exactly (half up)."""
GRAY_METHODS = tuple(GRAY_WEIGHTS)
"""The gray conversions, by name (``luma`` is the default)."""
CHANNEL_NAMES = ("red", "green", "blue")
CHANNEL_CMAPS = ("Reds", "Greens", "Blues")


def check_gray_method(method: str) -> str:
    """Return ``method`` if it names a gray conversion (:data:`GRAY_METHODS`), else raise."""
    if method not in GRAY_METHODS:
        raise input_error(
            tr("unknown gray method {method!r}: use {choices}").format(method=method, choices=", ".join(GRAY_METHODS))
        )
    return method


def to_gray(image: np.ndarray, method: str = "luma", source: str = "input") -> np.ndarray:
    """Return the gray (H, W) float32 image of an RGB (H, W, 3) one; gray input is returned as is.

    The weighted sum is computed in float64 and rounded once to float32, so an exact half such
    as 0.3·207 + 0.59·202 + 0.11·202 = 203.5 stays 203.5 (and rounds as ``gray`` rounds it).

    Example: ``to_gray(np.array([[[255, 0, 0]]]), "luma")`` gives ``[[76.5]]``.
    """
    import numpy as np

    check_gray_method(method)
    arr = np.asarray(image)
    if arr.ndim == 2:
        return arr.astype(np.float32, copy=False)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise input_error(
            tr("{source}: expected an RGB image, got shape {shape}").format(source=source, shape=arr.shape)
        )
    r, g, b = (arr[..., i].astype(np.float64) for i in range(3))
    if method == "average":
        gray = (r + g + b) / 3.0  # sum then divide, as the formula is written: exact for integers
    else:
        wr, wg, wb = GRAY_WEIGHTS[method]
        gray = wr * r + wg * g + wb * b
    return gray.astype(np.float32)


def gray_pixels(
    image: np.ndarray, method: str = "luma", *, peak: float = 255.0, depth: int = 8, source: str = "input"
) -> np.ndarray:
    """Gray pixels of ``depth`` bits (8: uint8, 16: uint16) from values in 0–``peak``, rounded
    half up from the exact weighted sum when the inputs are integers.

    Exact integer arithmetic avoids float ties (183.5 stored as 183.49999…) rounding either way:
    the gray value num/den, scaled by (2^depth − 1)/peak, becomes (2·N + D) // (2·D).
    """
    import numpy as np

    arr = np.asarray(image)
    check_gray_method(method)
    out_peak = 65535 if depth == 16 else 255
    up, down = (out_peak // int(peak), 1) if out_peak >= peak else (1, int(peak) // out_peak)
    dtype = np.uint16 if depth == 16 else np.uint8
    if arr.ndim == 3 and arr.shape[2] < 3:
        to_gray(arr, method, source)  # raises: not an RGB image
    if np.all(arr == np.round(arr)):
        if arr.ndim == 3:
            (wr, wg, wb), den = GRAY_RATIONAL[method]
            ints = arr[..., :3].astype(np.int64)
            num = wr * ints[..., 0] + wg * ints[..., 1] + wb * ints[..., 2]
        else:
            num, den = arr.astype(np.int64), 1
        num, den = num * up, den * down
        return np.clip((2 * num + den) // (2 * den), 0, out_peak).astype(dtype)
    gray = to_gray(arr, method, source).astype(np.float64) * (up / down)
    return np.clip(np.floor(gray + 0.5), 0, out_peak).astype(dtype)


def gray_split(image: np.ndarray, method: str = "luma") -> tuple[np.ndarray, int] | None:
    """The gray of an integer RGB image as two exact integer planes, (H, W, 2) float32, and the
    denominator ``d``: gray = plane 0 + plane 1 / d (quotient and remainder of the weighted sum
    by ``d``). None for non-integer values.

    A Conv2D in float32 sums integers exactly (below 2^24), but not 0.3·R + 0.59·G + 0.11·B:
    convolving the two planes and joining them in float64 gives integer kernels' exact results,
    so ties such as 5.5 round half up as promised.
    """
    import numpy as np

    arr = np.asarray(image)
    check_gray_method(method)
    if arr.ndim != 3 or arr.shape[2] < 3:
        return None
    ints = arr[..., :3].astype(np.int64)
    if arr.dtype.kind == "f" and not np.array_equal(ints, arr[..., :3]):
        return None
    (wr, wg, wb), den = GRAY_RATIONAL[method]
    num = wr * ints[..., 0] + wg * ints[..., 1] + wb * ints[..., 2]
    quotient, remainder = np.divmod(num, den)
    return np.stack([quotient, remainder], axis=-1).astype(np.float32), den


def iter_planes(image: np.ndarray, source: str = "input") -> Iterator[tuple[str, np.ndarray]]:
    """The red, green and blue planes of an RGB image, (name, (H, W) float32), made one at a
    time (a 24-MP picture's three float planes at once are 288 MB). Checks the shape first."""
    import numpy as np

    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] < 3:
        kind = (tr("a gray image {shape}") if arr.ndim == 2 else tr("shape {shape}")).format(shape=arr.shape)
        raise input_error(
            tr("{source}: expected a colour (RGB) image with 3 channels, got {kind}").format(source=source, kind=kind)
        )

    def planes() -> Iterator[tuple[str, np.ndarray]]:
        for i, name in enumerate(CHANNEL_NAMES):
            yield name, np.ascontiguousarray(arr[..., i], dtype=np.float32)

    return planes()


def channel_planes(image: np.ndarray, source: str = "input") -> dict[str, np.ndarray]:
    """Split an RGB image into its red, green and blue planes, each (H, W) float32."""
    return dict(iter_planes(image, source))


def stretch(values: np.ndarray, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """``values`` mapped linearly onto [0, 1] as float64: from ``value_range`` (lo, hi), by default
    their own min–max (all zeros when every value is the same), as ``plt.imshow`` scales them."""
    import numpy as np
    from skimage.exposure import rescale_intensity

    arr = np.asarray(values, dtype=np.float64)
    lo, hi = value_range if value_range is not None else (float(arr.min()), float(arr.max()))
    if not hi > lo:
        return np.zeros_like(arr)
    return rescale_intensity(arr, in_range=(lo, hi), out_range=(0.0, 1.0))


def colormap_plane(plane: np.ndarray, cmap: str, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Colour a plane with a matplotlib colour map (as ``plt.imshow(p, cmap=...)``).

    Returns (..., 3) uint8. The plane's own min–max is stretched, as imshow does by default,
    unless ``value_range`` fixes the ends of the map.
    """
    import numpy as np
    from matplotlib import colormaps

    rgba = colormaps[cmap](stretch(plane, value_range), bytes=True)
    return np.ascontiguousarray(rgba[..., :3])


PIL_GRAY_MODES = ("RGB", "RGBA", "L")
"""8-bit modes that :func:`gray_image` converts inside Pillow; others go through numpy."""


GRAY_STRIP_PIXELS = 1 << 22
"""Pixels of a strip :func:`gray_image` converts at a time (its 32-bit temporaries: about 100 MB)."""


def gray_image(image: PILImage.Image, method: str = "luma") -> PILImage.Image | None:
    """Gray 8-bit pixels of an RGB, RGBA or L Pillow image, equal to :func:`gray_pixels`'s.

    The same exact integer arithmetic, (2·(wr·R + wg·G + wb·B) + d) // (2·d), in Pillow's
    32-bit integer images, so no numpy is needed (tested on all 2^24 colours). Returns None
    for other modes.
    """
    from PIL import ImageMath

    check_gray_method(method)
    if image.mode not in PIL_GRAY_MODES:
        return None
    if image.mode == "L":
        return image.copy()
    from PIL import Image

    (wr, wg, wb), den = GRAY_RATIONAL[method]

    def strip_gray(strip: PILImage.Image) -> PILImage.Image:
        r, g, b = (band.convert("I") for band in strip.split()[:3])
        num = ImageMath.lambda_eval(lambda a: (a["r"] * wr + a["g"] * wg + a["b"] * wb) * 2 + den, r=r, g=g, b=b)
        return ImageMath.lambda_eval(lambda a: a["n"] / (2 * den), n=num).convert("L")  # integer division

    rows = max(1, GRAY_STRIP_PIXELS // max(1, image.width))
    if rows >= image.height:
        return strip_gray(image)
    gray = Image.new("L", image.size)  # strips: the 32-bit temporaries of a whole 100-MP picture are GBs
    for top in range(0, image.height, rows):
        gray.paste(strip_gray(image.crop((0, top, image.width, min(top + rows, image.height)))), (0, top))
    return gray
