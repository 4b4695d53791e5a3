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
