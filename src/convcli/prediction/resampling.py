"""The few SciPy/scikit-image filters that finding a digit's ink uses, in numpy, equal to the bit.

Why: ``convcli predict model.onnx digit.png`` should answer in well under a second without
TensorFlow, and importing ``scipy.ndimage`` (0.3 s of CPU: its array-API layer touches every
numpy attribute and rewrites ~230 docstrings at import) and ``skimage.transform`` (0.14 s more:
``scipy.spatial`` and ``scipy.linalg``) costs twenty times the work they do on one picture. Each
function here repeats the same floating-point operations in the same order as the library call it
replaces (named in its docstring), so the results are identical bit for bit; the tests compare
them with SciPy and scikit-image on many random pictures. Pictures are finite (the decoders refuse
NaN and infinities); :func:`median3` hands a non-finite one to SciPy.
"""

from __future__ import annotations

import numpy as np

# Devillard's 19-exchange network for the median of 9 (Paeth): after these min/max exchanges
# item 4 holds the median, a value of the window itself, as any exact selection returns it.
_MEDIAN9 = (
    (1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3),
    (5, 8), (4, 7), (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2),
)  # fmt: skip


def median3(gray: np.ndarray) -> np.ndarray:
    """The 3×3 median of a float picture, edges repeated: ``scipy.ndimage.median_filter(gray,
    footprint=np.ones((3, 3)), mode="nearest")`` (what ``skimage.filters.median`` runs for it).
    Why exact: a median of nine finite values is one of them, whatever the selection method."""
    gray = np.asarray(gray, dtype=np.float64)
    if not np.isfinite(gray).all():  # NaN has no order: SciPy's own selection decides there
        from scipy import ndimage

        return ndimage.median_filter(gray, footprint=np.ones((3, 3)), mode="nearest", cval=0.0)
    h, w = gray.shape
    padded = np.pad(gray, 1, mode="edge")
    p = [padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)]
    for a, b in _MEDIAN9:
        p[a], p[b] = np.minimum(p[a], p[b]), np.maximum(p[a], p[b])
    return np.array(p[4], dtype=np.float64)


def maximum_filter(image: np.ndarray, size: int) -> np.ndarray:
    """``scipy.ndimage.maximum_filter(image, size=size)`` for a 2-D float picture (mode "reflect",
    edges mirrored with the edge pixel repeated: numpy's "symmetric"). Why exact: a maximum is one
    of the values, and SciPy also takes it one axis after the other over the same windows."""
    out = np.asarray(image, dtype=np.float64)
    before, after = size // 2, size - size // 2 - 1  # SciPy's window around each pixel
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (before, after)
        padded = np.pad(out, pad, mode="symmetric")
        out = np.lib.stride_tricks.sliding_window_view(padded, size, axis=axis).max(axis=-1)
    return np.ascontiguousarray(out)


def _gaussian_weights(sigma: float) -> np.ndarray:
    """``scipy.ndimage._gaussian_kernel1d(sigma, 0, radius)`` for the radius ``gaussian_filter``
    takes (4 σ), reversed as ``gaussian_filter1d`` reverses it: the same numpy expressions."""
    radius = int(4.0 * float(sigma) + 0.5)
    sigma2 = sigma * sigma
    x = np.arange(-radius, radius + 1)
    phi_x = np.exp(-0.5 / sigma2 * x**2)
    return (phi_x / phi_x.sum())[::-1]


def _correlate_rows(image: np.ndarray, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` of SciPy's ``correlate1d(image, weights, axis=0, mode="mirror")`` for a
    symmetric kernel: its C loop ``out = x[0]·w[c]; out += (x[−j] + x[+j])·w[c−j]`` for j from the
    kernel's edge inwards, the line extended by mirroring (numpy's "reflect")."""
    radius = len(weights) // 2
    padded = np.pad(image, ((radius, radius), (0, 0)), mode="reflect")
    n = image.shape[0]
    if 2 * rows.size > n:  # most rows: slices (views) of every row, then the ones asked for
        out = padded[radius : radius + n] * weights[radius]
        for j in range(radius, 0, -1):
            out += (padded[radius - j : radius - j + n] + padded[radius + j : radius + j + n]) * weights[radius - j]
        return out[rows]
    centre = rows + radius
    out = padded[centre] * weights[radius]
    for j in range(radius, 0, -1):
        out += (padded[centre - j] + padded[centre + j]) * weights[radius - j]
    return out


def _zoom_axis(length: int, out_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per output index along one axis, SciPy's order-1 ``zoom`` (``grid_mode=True``, mode
    "mirror") source indices and weights: ``cc = (k + 0.5)·zoom − 0.5`` mirrored into the axis,
    ``w0 = 1 − frac(cc)``, ``w1 = 1 − w0`` (NI_ZoomShift and get_spline_interpolation_weights)."""
    zoom = np.divide(length, out_length) if out_length else 1.0
    cc = (np.arange(out_length, dtype=np.float64) + 0.5) * zoom - 0.5
    if length <= 1:
        cc = np.zeros_like(cc)
    else:
        sz2 = 2 * length - 2
        low = sz2 * np.trunc(-cc / sz2) + cc
        low = np.where(low <= 1 - length, low + sz2, -low)
        high = cc - sz2 * np.trunc(cc / sz2)
        high = np.where(high >= length, sz2 - high, high)
        cc = np.where(cc < 0, low, np.where(cc > length - 1, high, cc))
    start = np.floor(cc).astype(np.int64)
    w0 = 1.0 - (cc - np.floor(cc))
    w1 = 1.0 - w0
    return _mirror_index(start, length), _mirror_index(start + 1, length), w0, w1


def _mirror_index(idx: np.ndarray, length: int) -> np.ndarray:
    """SciPy's ``map_coordinate`` in mode "mirror" for integer indices (the edge's neighbours)."""
    if length <= 1:
        return np.zeros_like(idx)
    sz2 = 2 * length - 2
    low = sz2 * (-idx // sz2) + idx
    low = np.where(low <= 1 - length, low + sz2, -low)
    high = idx - sz2 * (idx // sz2)
    high = np.where(high >= length, sz2 - high, high)
    return np.where(idx < 0, low, np.where(idx >= length, high, idx))


def resize(image: np.ndarray, shape: tuple[int, int], anti_aliasing: bool | None = None) -> np.ndarray:
    """``skimage.transform.resize(image, shape, order=1, preserve_range=True,
    anti_aliasing=anti_aliasing)`` for a 2-D float64 picture (None: smoothed when shrinking
    along an axis, as scikit-image decides): a Gaussian of σ = (factor − 1)/2 where shrinking
    (``scipy.ndimage.gaussian_filter``, mode "mirror"), SciPy's order-1 ``zoom``
    (``grid_mode=True``), clipped to the picture's range. Only the rows and columns the zoom reads
    are filtered: each is the same sum as SciPy's, which filters all of them."""
    image = np.asarray(image, dtype=np.float64)
    factors = np.divide(image.shape, shape)
    if anti_aliasing is None:
        anti_aliasing = any(out < n for out, n in zip(shape, image.shape))
    zoom_factors = [1 / f for f in factors]
    out_shape = tuple(round(n * z) for n, z in zip(image.shape, zoom_factors))  # as ndimage.zoom
    if all(z == 1 for z in zoom_factors):  # ndimage.zoom returns its input as it is
        out = image.copy()
    else:
        rows0, rows1, wy0, wy1 = _zoom_axis(image.shape[0], out_shape[0])
        cols0, cols1, wx0, wx1 = _zoom_axis(image.shape[1], out_shape[1])
        need_rows, need_cols = np.union1d(rows0, rows1), np.union1d(cols0, cols1)
        sigmas = np.maximum(0, (factors - 1) / 2) if anti_aliasing else np.zeros(2)
        part = image[need_rows]
        if sigmas[0] > 1e-15:  # gaussian_filter skips an axis with σ ≤ 1e-15
            part = _correlate_rows(image, _gaussian_weights(sigmas[0]), need_rows)
        if sigmas[1] > 1e-15:
            part = _correlate_rows(part.T, _gaussian_weights(sigmas[1]), need_cols).T
        else:
            part = part[:, need_cols]
        r0, r1 = np.searchsorted(need_rows, rows0), np.searchsorted(need_rows, rows1)
        c0, c1 = np.searchsorted(need_cols, cols0), np.searchsorted(need_cols, cols1)
        wy0, wy1, wx0, wx1 = wy0[:, None], wy1[:, None], wx0[None, :], wx1[None, :]
        out = 0.0 + part[np.ix_(r0, c0)] * wy0 * wx0
        out += part[np.ix_(r0, c1)] * wy0 * wx1
        out += part[np.ix_(r1, c0)] * wy1 * wx0
        out += part[np.ix_(r1, c1)] * wy1 * wx1
    return np.clip(out, np.min(image), np.max(image))


def rescale(image: np.ndarray, scale: float, anti_aliasing: bool) -> np.ndarray:
    """``skimage.transform.rescale(image, scale, anti_aliasing=anti_aliasing,
    preserve_range=True)`` for a 2-D float64 picture: :func:`resize` to ``round(scale × shape)``."""
    shape = np.maximum(np.round(scale * np.asarray(image.shape)), 1)
    return resize(image, (shape[0], shape[1]), anti_aliasing)
