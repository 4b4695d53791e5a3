"""A user's picture framed the way a built-in dataset of objects framed its own (``frame``).

Fashion-MNIST made each picture from a product photo by trimming the background, fitting the
longest side to 28 pixels and centring the product; a garment photographed small on a large
canvas, or on a wide one, is framed the same way here before the model sees it (resized whole,
20 padded garments of 20 came out as chance: 2 right). A picture that already fills a frame of the
model's shape (the dataset's own PNGs, at any size) goes in resized as it is, bit for bit as before.
"""

from __future__ import annotations

import numpy as np

OBJECT_STEP = 16
"""How far (0–255) a pixel's gray lies from the background's for it to count as the object's:
above JPEG's noise and paper grain, below a pale garment's edge."""

FILLED = 0.85
"""A picture whose object spans this share of its width or height (at the model's proportions) is
taken as framed already: 15 of Fashion-MNIST's 10,000 test pictures span less than 0.9."""


def background(gray: np.ndarray) -> float:
    """The background's gray: the median of the picture's border (its four edges, corners twice)."""
    return float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))


def object_box(gray: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right), bottom and right exclusive, of the rows and columns holding
    pixels that differ from the :func:`background` by more than :data:`OBJECT_STEP`, at least 2
    of them and 2% of the row's (column's) length: a speck of dust does not stretch the box.
    None if no row and column does."""
    found = np.abs(gray - background(gray)) > OBJECT_STEP
    height, width = gray.shape
    rows = np.nonzero(found.sum(axis=1) >= max(2, (width + 49) // 50))[0]
    cols = np.nonzero(found.sum(axis=0) >= max(2, (height + 49) // 50))[0]
    if rows.size == 0 or cols.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def is_framed(shape: tuple[int, int], box: tuple[int, int, int, int] | None, size: tuple[int, int]) -> bool:
    """Whether a picture of ``shape`` whose object lies in ``box`` is framed like the model's
    pictures already: the model's proportions (within 5%), and the object filling :data:`FILLED`."""
    height, width = shape
    if box is None or abs(height * size[1] / (width * size[0]) - 1) > 0.05:
        return box is None
    top, bottom, left, right = box
    return max((bottom - top) / height, (right - left) / width) >= FILLED


def resized(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 (H, W, C) pixels resized to ``size`` (height, width) as a training picture is
    (:func:`convcli.imaging.images.bilinear`)."""
    from PIL import Image

    from ..imaging.images import bilinear

    if pixels.shape[:2] == size:
        return pixels
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    out = np.asarray(bilinear(image, (size[1], size[0])), dtype=np.uint8)
    return out[:, :, None] if out.ndim == 2 else out


def framed(pixels: np.ndarray, size: tuple[int, int], paper: str) -> np.ndarray:
    """uint8 (H, W, C) pixels at full size as the model's (``size``) input: turned to the training
    pictures' ``paper``, trimmed to the object, its longest side fit to the frame, centred on the
    background. A picture framed already (:func:`is_framed`) is resized whole, as before."""
    from ..models.inputs import on_training_paper

    gray = pixels.astype(np.float64).mean(axis=2)
    box = object_box(gray)
    if is_framed(gray.shape, box, size):
        return on_training_paper(resized(pixels, size), paper)
    assert box is not None
    turned = on_training_paper(pixels, paper)
    top, bottom, left, right = box
    scale = min(size[0] / (bottom - top), size[1] / (right - left))
    height = min(size[0], max(1, round((bottom - top) * scale)))
    width = min(size[1], max(1, round((right - left) * scale)))
    fill = round(background(turned.astype(np.float64).mean(axis=2)))
    out = np.full((size[0], size[1], pixels.shape[2]), fill, dtype=np.uint8)
    y, x = (size[0] - height) // 2, (size[1] - width) // 2
    out[y : y + height, x : x + width] = resized(np.ascontiguousarray(turned[top:bottom, left:right]), (height, width))
    return out
