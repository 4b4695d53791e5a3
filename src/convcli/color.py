"""Colour: RGB to gray by the lecture's formulas, and the R, G, B planes of an image.

Notes
-----
luma:    GRIS = 0.3 R + 0.59 G + 0.11 B     (the lecture's perceptual formula)
average: GRIS = (R + G + B) / 3              (the lecture's simple mean)
bt709:   Y = 0.2125 R + 0.7154 G + 0.0721 B  (skimage.color.rgb2gray's weights)
"""

from __future__ import annotations

import numpy as np

from .errors import input_error

GRAY_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "luma": (0.3, 0.59, 0.11),
    "average": (1 / 3, 1 / 3, 1 / 3),
    "bt709": (0.2125, 0.7154, 0.0721),
}
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


def channel_planes(image: np.ndarray) -> dict[str, np.ndarray]:
    """Split an RGB image into its red, green and blue planes, each (H, W) float32."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise input_error(
            f"expected a colour (RGB) image with 3 channels, got shape {arr.shape}"
        )
    return {name: np.ascontiguousarray(arr[..., i], dtype=np.float32)
            for i, name in enumerate(CHANNEL_NAMES)}


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


def gray_file(
    source: str,
    output: str,
    *,
    method: str = "luma",
    max_pixels: int | None = None,
    in_place: bool = False,
) -> tuple[np.ndarray, str]:
    """Convert an image file (``-``: stdin, ``sample:NAME``) to gray and write it to ``output``.

    Returns the gray float array and the output path (``-``: the caller writes PNG to stdout).
    """
    from .filtering import read_source
    from .images import DEFAULT_MAX_PIXELS, write_array
    from .outputs import check_output_path

    if method not in GRAY_WEIGHTS:
        raise input_error(f"unknown gray method {method!r}: use {', '.join(GRAY_WEIGHTS)}")
    if output != "-":
        check_output_path(output, inputs=(source,), in_place=in_place)
    image = read_source(source, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
    gray = to_gray(image, method)
    if output != "-":
        write_array(output, gray, range_mode="clip")
    return gray, output


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

    from .filtering import _stem, read_source
    from .images import DEFAULT_MAX_PIXELS, encode_image
    from .outputs import check_output_dir, write_bytes

    folder = check_output_dir(out_dir)
    image = read_source(source, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
    planes = channel_planes(image)
    stem = _stem(source)
    written: list[str] = []
    for (name, plane), cmap in zip(planes.items(), CHANNEL_CMAPS):
        pixels = np.clip(np.rint(plane), 0, 255).astype(np.uint8)
        gray_path = Path(folder) / f"{stem}-{name}.png"
        write_bytes(gray_path, encode_image(pixels))
        cmap_path = Path(folder) / f"{stem}-{name}-{cmap}.png"
        write_bytes(cmap_path, encode_image(colormap_plane(plane, cmap)))
        written += [str(gray_path), str(cmap_path)]
    return written
