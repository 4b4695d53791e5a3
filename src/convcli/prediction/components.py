"""Thresholds and connected components of an ink map, in numpy, equal to scikit-image's to the bit.

Why: the one-digit ``predict`` path used ``skimage.filters.threshold_otsu`` and
``apply_hysteresis_threshold``, ``skimage.measure.label`` and ``regionprops``; each imports
``scipy.ndimage`` (and ``regionprops`` ``scipy.spatial``), 0.3–0.45 s of CPU at start-up for a few
milliseconds of work (see :mod:`convcli.prediction.resampling`). Otsu is scikit-image's numpy code
as it stands; labels are numbered as ``skimage.measure.label`` numbers them (by each component's
first pixel in raster order); a :class:`Region` gives the properties convcli reads, computed by the
same numpy calls as ``regionprops``. The tests compare all of them with scikit-image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def threshold_otsu(image: np.ndarray, nbins: int = 256) -> float:
    """``skimage.filters.threshold_otsu(image)`` for a float picture: its histogram
    (``np.histogram`` over the picture's range, counts as float32) and its class-variance sums."""
    first_pixel = image.reshape(-1)[0]
    if np.all(image == first_pixel):
        return first_pixel
    hist, bin_edges = np.histogram(image.flatten(), bins=nbins, range=None)
    counts = hist.astype("float32", copy=False)
    bin_centers = (bin_edges[:-1] + bin_edges[1:]) / 2.0
    weight1 = np.cumsum(counts)
    weight2 = np.cumsum(counts[::-1])[::-1]
    mean1 = np.cumsum(counts * bin_centers) / weight1
    mean2 = (np.cumsum((counts * bin_centers)[::-1]) / weight2[::-1])[::-1]
    variance12 = weight1[:-1] * weight2[1:] * (mean1[:-1] - mean2[1:]) ** 2
    return bin_centers[np.argmax(variance12)]


_NEIGHBOURS = {1: ((0, 1), (1, 0)), 2: ((0, 1), (1, 0), (1, 1), (1, -1))}
"""Half of each pixel's neighbours (the other half is their mirror): edge-sharing (4-connected)
and corner-sharing too (8-connected)."""


def label(mask: np.ndarray, connectivity: int = 2) -> np.ndarray:
    """``skimage.measure.label(mask, connectivity=connectivity)``: the connected components of a
    2-D boolean picture numbered 1, 2, … in the raster order of their first pixel, 0 elsewhere.

    Union–find in whole-array steps: each root hooks to the smallest root across its edges, then
    pointers are jumped until each pixel names its component's root, its first pixel in raster
    order (a pointer only ever goes to a smaller index)."""
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    flat = mask.ravel()
    parent = np.arange(flat.size)
    ends = [_edges(mask, dy, dx) for dy, dx in _NEIGHBOURS[connectivity]]
    a = np.concatenate([e[0] for e in ends]) if ends else np.zeros(0, np.int64)
    b = np.concatenate([e[1] for e in ends]) if ends else np.zeros(0, np.int64)
    while a.size:
        ra, rb = parent[a], parent[b]
        apart = ra != rb
        if not apart.any():
            break
        ra, rb = ra[apart], rb[apart]
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
        while True:  # pointer jumping: every pixel to its root
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
        a, b = a[apart], b[apart]
    labels = np.zeros(flat.size, dtype=np.int64)
    roots = parent[flat]
    _, number = np.unique(roots, return_inverse=True)  # roots ascending = first pixels in raster order
    labels[flat] = number.ravel() + 1
    return labels.reshape(h, w)


def _edges(mask: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices (p, q) of the ink pixels p whose neighbour q = p + (dy, dx) is ink too."""
    h, w = mask.shape
    x0, x1 = max(0, -dx), w - max(0, dx)
    here = mask[: h - dy, x0:x1] & mask[dy:, x0 + dx : x1 + dx]
    ys, xs = np.nonzero(here)
    xs = xs + x0
    p = ys * w + xs
    return p, p + dy * w + dx


def apply_hysteresis_threshold(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """``skimage.filters.apply_hysteresis_threshold(image, low, high)``: the pixels above ``low``
    that are edge-connected (``scipy.ndimage.label``'s default) to a pixel above ``high``."""
    low = np.clip(low, a_min=None, a_max=high)
    mask_low = image > low
    mask_high = image > high
    labels = label(mask_low, connectivity=1)
    connected_to_high = np.zeros(labels.max() + 1, dtype=bool)
    connected_to_high[labels[mask_high]] = True
    connected_to_high[0] = False
    return connected_to_high[labels]


@dataclass
class Region:
    """The properties of a labelled component that convcli reads, as ``regionprops`` gives them."""

    label: int
    bbox: tuple[int, int, int, int]
    """(top, left, bottom, right), bottom and right exclusive."""
    area: float
    """The number of pixels (``regionprops``: a float64)."""
    intensity_mean: float
    """``np.mean`` of the intensity picture over the component's pixels in raster order."""
    coords: np.ndarray = field(repr=False)
    """(row, column) of each pixel, raster order, as ``regionprops``'s ``coords``."""


def regionprops(labels: np.ndarray, intensity_image: np.ndarray) -> list[Region]:
    """``skimage.measure.regionprops(labels, intensity_image=…)`` for the properties of :class:`Region`,
    one per label present, in label order."""
    flat = labels.ravel()
    inside = np.flatnonzero(flat)
    order = inside[np.argsort(flat[inside], kind="stable")]  # by label, raster order within one
    numbers, starts, counts = np.unique(flat[order], return_index=True, return_counts=True)
    values = np.asarray(intensity_image).ravel()
    width = labels.shape[1]
    regions = []
    for number, start, count in zip(numbers, starts, counts):
        pixels = order[start : start + count]
        ys, xs = pixels // width, pixels % width
        bbox = (int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1)
        mean = np.mean(values[pixels] * True, axis=0)
        regions.append(Region(int(number), bbox, np.float64(count) * 1.0, mean, np.column_stack([ys, xs])))
    return regions
