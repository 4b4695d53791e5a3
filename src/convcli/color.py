"""Colour: RGB to gray by the lecture's formulas, and the R, G, B planes of an image.

Notes
-----
luma:    GRIS = 0.3 R + 0.59 G + 0.11 B     (the lecture's perceptual formula)
average: GRIS = (R + G + B) / 3              (the lecture's simple mean)
bt709:   Y = 0.2125 R + 0.7154 G + 0.0721 B  (skimage.color.rgb2gray's weights)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import input_error

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
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise input_error(f"expected a colour (RGB) image with 3 channels, got shape {arr.shape}")
    return {name: np.ascontiguousarray(arr[..., i], dtype=np.float32) for i, name in enumerate(CHANNEL_NAMES)}


def colormap_plane(plane: np.ndarray, cmap: str) -> np.ndarray:
    """Colour a 0–255 plane with a matplotlib colour map (as ``plt.imshow(p, cmap=...)``).

    Returns (H, W, 3) uint8. The plane's own min–max is stretched, as imshow does by default.
    """
    from matplotlib import colormaps

    arr = np.asarray(plane, dtype=np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    norm = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    rgba = colormaps[cmap](norm, bytes=True)
    return np.ascontiguousarray(rgba[..., :3])


@dataclass
class GrayResult:
    """A gray conversion and its output path: float values for raw outputs (``.npy``, ``.txt``),
    8-bit pixels for images and ``-`` (the caller writes those to stdout as PNG)."""

    gray: np.ndarray | None
    pixels: np.ndarray | None
    output: str


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
    """
    from .images import DEFAULT_MAX_PIXELS, encode_image, image_format_for, is_raw_path, read_source, write_array
    from .outputs import check_output_path, write_bytes

    if method not in GRAY_WEIGHTS:
        raise input_error(f"unknown gray method {method!r}: use {', '.join(GRAY_WEIGHTS)}")
    if output != "-":
        check_output_path(output, inputs=(source,), in_place=in_place)
    image = read_source(source, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
    if output != "-" and is_raw_path(output):  # raw outputs keep the exact float values
        gray = to_gray(image, method)
        write_array(output, gray)
        return GrayResult(gray, None, output)
    pixels = gray_pixels(image, method)  # images get only the 8-bit pixels (start-up matters here)
    if output != "-":
        write_bytes(output, encode_image(pixels, image_format_for(output), png_level=1))
    return GrayResult(None, pixels, output)


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
