"""Colour: RGB to gray by the lecture's formulas, and the R, G, B planes of an image.

Notes
-----
luma:    GRIS = 0.3 R + 0.59 G + 0.11 B     (the lecture's perceptual formula)
average: GRIS = (R + G + B) / 3              (the lecture's simple mean)
bt709:   Y = 0.2125 R + 0.7154 G + 0.0721 B  (skimage.color.rgb2gray's weights)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import input_error

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image as PILImage

# numpy is imported inside the functions that use it: `convcli gray` on an 8-bit image works in
# Pillow alone and does not pay numpy's ~70 ms import (measured with hyperfine; see README).

GRAY_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "luma": (0.3, 0.59, 0.11),
    "average": (1 / 3, 1 / 3, 1 / 3),
    "bt709": (0.2125, 0.7154, 0.0721),
}
GRAY_RATIONAL: dict[str, tuple[tuple[int, int, int], int]] = {
    "luma": ((30, 59, 11), 100),
    "average": ((1, 1, 1), 3),
    "bt709": ((2125, 7154, 721), 10000),
}
"""The same weights as exact fractions, so 8-bit pixels round exactly (half up)."""
CHANNEL_NAMES = ("red", "green", "blue")
CHANNEL_CMAPS = ("Reds", "Greens", "Blues")


def to_gray(image: np.ndarray, method: str = "luma") -> np.ndarray:
    """Return the gray (H, W) float32 image of an RGB (H, W, 3) one; gray input is returned as is.

    Example: ``to_gray(np.array([[[255, 0, 0]]]), "luma")`` gives ``[[76.5]]``.
    """
    import numpy as np

    if method not in GRAY_WEIGHTS:
        raise input_error(f"unknown gray method {method!r}: use {', '.join(GRAY_WEIGHTS)}")
    arr = np.asarray(image)
    if arr.ndim == 2:
        return arr.astype(np.float32, copy=False)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise input_error(f"expected an RGB image, got shape {arr.shape}")
    if method == "average":
        # Sum then divide, as the formula is written: exact for integer inputs.
        gray = (arr[..., 0].astype(np.float64) + arr[..., 1] + arr[..., 2]) / 3.0
    else:
        r, g, b = GRAY_WEIGHTS[method]
        gray = r * arr[..., 0].astype(np.float64) + g * arr[..., 1] + b * arr[..., 2]
    return gray.astype(np.float32)


def gray_pixels(image: np.ndarray, method: str = "luma") -> np.ndarray:
    """Gray 8-bit pixels, rounded half up from the exact weighted sum when inputs are integers.

    Exact integer arithmetic avoids float ties (183.5 stored as 183.49999…) rounding either way.
    """
    import numpy as np

    arr = np.asarray(image)
    if method not in GRAY_RATIONAL:
        raise input_error(f"unknown gray method {method!r}: use {', '.join(GRAY_WEIGHTS)}")
    if arr.ndim == 3 and arr.shape[2] >= 3 and np.all(arr == np.round(arr)):
        (wr, wg, wb), den = GRAY_RATIONAL[method]
        ints = arr[..., :3].astype(np.int64)
        num = wr * ints[..., 0] + wg * ints[..., 1] + wb * ints[..., 2]
        return np.clip((2 * num + den) // (2 * den), 0, 255).astype(np.uint8)
    gray = to_gray(arr, method).astype(np.float64)
    return np.clip(np.floor(gray + 0.5), 0, 255).astype(np.uint8)


def channel_planes(image: np.ndarray) -> dict[str, np.ndarray]:
    """Split an RGB image into its red, green and blue planes, each (H, W) float32."""
    import numpy as np

    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise input_error(f"expected a colour (RGB) image with 3 channels, got shape {arr.shape}")
    return {name: np.ascontiguousarray(arr[..., i], dtype=np.float32) for i, name in enumerate(CHANNEL_NAMES)}


def colormap_plane(plane: np.ndarray, cmap: str) -> np.ndarray:
    """Colour a 0–255 plane with a matplotlib colour map (as ``plt.imshow(p, cmap=...)``).

    Returns (H, W, 3) uint8. The plane's own min–max is stretched, as imshow does by default.
    """
    import numpy as np
    from matplotlib import colormaps

    arr = np.asarray(plane, dtype=np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    norm = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    rgba = colormaps[cmap](norm, bytes=True)
    return np.ascontiguousarray(rgba[..., :3])


PIL_GRAY_MODES = ("RGB", "RGBA", "L")
"""8-bit modes that :func:`gray_image` converts inside Pillow; others go through numpy."""


def gray_image(image: PILImage.Image, method: str = "luma") -> PILImage.Image | None:
    """Gray 8-bit pixels of an RGB, RGBA or L Pillow image, equal to :func:`gray_pixels`'s.

    The same exact integer arithmetic, (2·(wr·R + wg·G + wb·B) + d) // (2·d), in Pillow's
    32-bit integer images, so no numpy is needed (tested on all 2^24 colours). Returns None
    for other modes.
    """
    from PIL import ImageMath

    if method not in GRAY_RATIONAL:
        raise input_error(f"unknown gray method {method!r}: use {', '.join(GRAY_WEIGHTS)}")
    if image.mode not in PIL_GRAY_MODES:
        return None
    if image.mode == "L":
        return image.copy()
    (wr, wg, wb), den = GRAY_RATIONAL[method]
    r, g, b = (band.convert("I") for band in image.split()[:3])
    num = ImageMath.lambda_eval(lambda a: (a["r"] * wr + a["g"] * wg + a["b"] * wb) * 2 + den, r=r, g=g, b=b)
    gray = ImageMath.lambda_eval(lambda a: a["n"] / (2 * den), n=num)  # integer division on "I" images
    return gray.convert("L")


@dataclass
class GrayResult:
    """A gray conversion and its output path: float values for raw outputs (``.npy``, ``.txt``),
    8-bit pixels for images and ``-`` (the caller writes those to stdout as PNG)."""

    gray: np.ndarray | None
    output: str
    image: PILImage.Image | None = field(default=None, repr=False)
    """The 8-bit gray Pillow image (image outputs); :attr:`pixels` is the same as an array."""

    @property
    def pixels(self) -> np.ndarray | None:
        """The 8-bit gray pixels as a (H, W) uint8 array, or None for raw outputs."""
        import numpy as np

        return None if self.image is None else np.asarray(self.image)


def gray_file(
    source: str,
    output: str,
    *,
    method: str = "luma",
    max_pixels: int | None = None,
    in_place: bool = False,
) -> GrayResult:
    """Convert an image file (``-``: stdin, ``sample:NAME``) to gray and write it to ``output``.

    With ``output`` ``-`` nothing is written: the caller sends ``pixels`` to stdout as PNG.
    8-bit RGB/RGBA/gray image files written as images take the Pillow-only path (start-up
    matters for one image); everything else goes through numpy, with the same pixels.
    """
    from PIL import Image

    from .images import (
        DEFAULT_MAX_PIXELS,
        SAMPLE_PREFIX,
        _read_bytes,
        encode_pil,
        image_format_for,
        image_to_array,
        is_raw_path,
        open_image,
        read_source,
        write_array,
    )
    from .outputs import check_output_path, write_bytes

    if method not in GRAY_WEIGHTS:
        raise input_error(f"unknown gray method {method!r}: use {', '.join(GRAY_WEIGHTS)}")
    if output != "-":
        check_output_path(output, inputs=(source,), in_place=in_place)
    limit = max_pixels or DEFAULT_MAX_PIXELS
    raw_output = output != "-" and is_raw_path(output)
    fmt = "PNG" if output == "-" else None if raw_output else image_format_for(output)
    pil: PILImage.Image | None = None
    array: np.ndarray | None = None
    if source.startswith(SAMPLE_PREFIX) or is_raw_path(source):  # samples, .npy and text matrices
        array = read_source(source, max_pixels=limit)
    else:
        decoded = open_image(_read_bytes(source), source, max_pixels=limit)
        if not raw_output:
            pil = gray_image(decoded, method)
        if pil is None:
            array = image_to_array(decoded, source)
    if raw_output:  # raw outputs keep the exact float values
        assert array is not None
        gray = to_gray(array, method)
        write_array(output, gray)
        return GrayResult(gray, output)
    if pil is None:
        assert array is not None
        pil = Image.fromarray(gray_pixels(array, method))
    if output != "-":
        assert fmt is not None
        write_bytes(output, encode_pil(pil, fmt, png_level=1))
    return GrayResult(None, output, pil)


def channels_file(
    source: str,
    out_dir: str,
    *,
    max_pixels: int | None = None,
) -> list[str]:
    """Write an image's R, G and B planes to ``out_dir``, as gray and colour-mapped PNGs.

    Files: ``<stem>-red.png`` (gray) and ``<stem>-red-Reds.png`` (Reds colour map, as the
    lecture's notebook shows with ``plt.imshow(img[:, :, 0], cmap='Reds')``), and so on.
    """
    from pathlib import Path

    import numpy as np

    from .images import DEFAULT_MAX_PIXELS, encode_image, read_source, source_stem
    from .outputs import check_output_dir, write_bytes

    folder = check_output_dir(out_dir)
    image = read_source(source, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
    planes = channel_planes(image)
    stem = source_stem(source)
    written: list[str] = []
    for (name, plane), cmap in zip(planes.items(), CHANNEL_CMAPS):
        pixels = np.clip(np.rint(plane), 0, 255).astype(np.uint8)
        gray_path = Path(folder) / f"{stem}-{name}.png"
        write_bytes(gray_path, encode_image(pixels))
        cmap_path = Path(folder) / f"{stem}-{name}-{cmap}.png"
        write_bytes(cmap_path, encode_image(colormap_plane(plane, cmap)))
        written += [str(gray_path), str(cmap_path)]
    return written
