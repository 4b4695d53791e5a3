"""Finding the ink of digits in a photo or scan: which pixels are writing, and which marks are digits.

A photo of a digit on paper has everything MNIST's digits lack: camera noise, uneven light, tinted
paper, ruled lines, JPEG artefacts, and a digit that fills only a corner of the picture. This
module turns such a picture into an *ink map* (how much darker than the paper around it each
pixel is), erases ruled lines (:mod:`convcli.prediction.rulings`), thresholds it, and picks the connected ink
components that make up one digit (:func:`digit_ink`; each digit of a number written on one line
is :mod:`convcli.prediction.numbers`). The
filters are scikit-image's and SciPy's (``transform.rescale``, ``filters.threshold_otsu`` and
``apply_hysteresis_threshold``, ``measure.label``/``regionprops``, ``ndimage.median_filter`` and
``maximum_filter``) redone in numpy to the bit (:mod:`convcli.prediction.resampling`,
:mod:`convcli.prediction.components`): importing those libraries cost a one-picture ``predict``
0.45 s of CPU, twenty times the work; the paper's brightness is a robust polynomial fit
(:func:`paper_brightness`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import input_error
from ..i18n import tr
from .components import apply_hysteresis_threshold, label, regionprops, threshold_otsu
from .resampling import maximum_filter, median3, rescale, resize
from .rulings import erase_rulings

MEDIAN_SIDE = 64
"""Pictures at least this large (short side), or noisy ones, get a 3×3 median filter (camera
noise, JPEG speckle, dust) before anything else; smaller clean ones might lose a 1-px stroke."""
WORK_SIDE = 1024
"""Pictures whose long side is larger are shrunk to this first: a 20×20 digit needs no more."""
BACKGROUND_SIDE = 64
"""The paper's brightness is estimated on a copy this large (long side): lighting is smooth."""
NOISE_FACTOR = 6.0
"""A stroke must stand out from the paper by this many noise standard deviations…"""
MIN_CONTRAST = 24.0
"""…and by at least this many gray levels (of 255); otherwise the picture holds no digit."""
MIN_HEIGHT = 0.03
"""A digit is at least this fraction of the picture's short side tall: smaller marks are specks."""
SUPPORT = 0.25
"""Pixels with at least this fraction of the stroke's ink, touching a stroke, belong to the digit."""


@dataclass
class InkMap:
    """A picture's ink (gray levels darker than the local paper), its noise, and its ink components.

    ``labels`` numbers the connected components of the thresholded ink; ``regions`` are those that
    may be writing (lines across the sheet and specks left out), as
    :class:`~convcli.prediction.components.Region` objects.
    """

    ink: np.ndarray
    sigma: float
    labels: np.ndarray
    regions: list[Any]
    high: float
    scale: float = 1.0
    """Working-picture pixels per pixel of the original (below 1 when a large picture was shrunk)."""


def ink_map(image: np.ndarray) -> InkMap:
    """Ink of a gray picture, dark-on-light or light-on-dark, with lighting and noise removed.

    Steps: shrink to :data:`WORK_SIDE`; a 3×3 median filter (photos, or noisy small pictures);
    polarity (:func:`_dark_paper`); ink = the paper's brightness (:func:`paper_brightness`) −
    picture; the noise σ from the pixels brighter than the paper fit (ink is only ever darker);
    ruled lines erased down to the faintest ink a digit's support may reach, strokes crossing them
    kept (:func:`convcli.prediction.rulings.erase_rulings`); Otsu's threshold among the pixels above 3 σ, at
    least :data:`NOISE_FACTOR` σ, with hysteresis down to half of it; connected components, long
    thin marks across the sheet (a paper's edge) left out.
    """
    gray = np.asarray(image, dtype=np.float64)
    scale = min(1.0, WORK_SIDE / max(gray.shape))
    if scale < 1:
        gray = rescale(gray, scale, anti_aliasing=True)
    if min(gray.shape) >= MEDIAN_SIDE or _noise(gray) > 2.0:
        gray = median3(gray)
    if _dark_paper(gray):  # light ink on dark paper: work on the negative
        gray = 255.0 - gray
    paper = paper_brightness(gray)
    residual = paper - gray
    brighter = -residual[residual < 0]  # the paper's noise alone: ink is only ever darker
    sigma = float(1.4826 * np.median(brighter)) if brighter.size else 0.0
    ink = np.clip(residual, 0, None)
    ink, _ = erase_rulings(ink, max(3 * sigma, SUPPORT * _stroke_threshold(ink, sigma)))
    high = _stroke_threshold(ink, sigma)
    mask = apply_hysteresis_threshold(ink, high / 2, high)
    labels = label(mask, connectivity=2)
    regions = [r for r in regionprops(labels, intensity_image=ink) if not _is_ruled_line(r, ink.shape)]
    return InkMap(ink, sigma, labels, regions, float(high), scale)


FLAT_ENOUGH = 0.9
"""A flat paper is used when it takes at least this share of the pixels the cubic takes as paper
(within 3 noise σ of the fit): evenly lit scans; under a shadow only a band is that close to flat."""
SCAN_SIDE = 128
"""Pictures up to this short side (scans, crops) take their paper's polarity from their border."""


def _dark_paper(gray: np.ndarray) -> bool:
    """Whether the paper is darker than the ink: the picture's median (the paper is the majority)
    is below its mid-range. A scan or crop up to :data:`SCAN_SIDE` px goes by its border's median
    instead: a bold digit filling it (optdigits' 64×64) is the majority there, and its paper still
    surrounds it; a large photo's border may be the table around the sheet."""
    lo, hi = float(gray.min()), float(gray.max())
    if min(gray.shape) <= SCAN_SIDE:
        border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
        return float(np.median(border)) < (lo + hi) / 2
    return float(np.median(gray)) < (lo + hi) / 2


def _stroke_threshold(ink: np.ndarray, sigma: float) -> float:
    """Otsu's threshold among the pixels above 3 σ (strokes against faint marks, not the paper's
    noise), at least :data:`NOISE_FACTOR` σ and half of :data:`MIN_CONTRAST`."""
    standing_out = ink[ink > 3 * sigma]
    otsu = threshold_otsu(standing_out) if standing_out.size and np.ptp(standing_out) > 0 else 0.0
    return float(max(otsu, NOISE_FACTOR * sigma, MIN_CONTRAST / 2))


def paper_brightness(gray: np.ndarray, rounds: int = 6) -> np.ndarray:
    """The paper's brightness under the picture's lighting: a cubic surface fitted to the paper,
    or a flat one when that explains the paper as well.

    Fitted by least squares on a copy :data:`BACKGROUND_SIDE` px long (16 px short at least). Ink
    pulls a plain fit down, so the first rounds refit to the pixels above the last fit (climbing to
    the paper, even where a bold digit covers a third of the picture), and the later ones to every pixel no more than
    3 noise σ below it (the paper, not the ink). Pictures under 16 px (short side) get a flat
    paper: a cubic would bend into their strokes. So do evenly lit pictures (scans: a flat paper
    takes at least :data:`FLAT_ENOUGH` of the pixels the cubic takes as paper), and pictures where
    the cubic swings above the brightest pixel (beside a digit touching the border), which would
    make phantom ink there.
    Lighting across a sheet (a gradient, a vignette, their product) is smooth; a morphological
    closing or a large median overestimates it at the picture's edges by the slope times the
    window. scikit-image has no robust surface fit, hence these few lines of numpy.
    """
    # long side BACKGROUND_SIDE, but the short side kept at 16 px or more: a ten-digit number's wide
    # picture (600×120) shrunk to 64×13 would get a flat paper, and its shadow would become ink
    scale = min(1.0, max(BACKGROUND_SIDE / max(gray.shape), 16 / min(gray.shape)))
    small = rescale(gray, scale, anti_aliasing=scale < 1)
    coef, flat_paper = _robust_fit(small, _POWERS[:1], rounds)
    powers = _POWERS[:1]
    if min(small.shape) >= 16:
        cubic, cubic_paper = _robust_fit(small, _POWERS, rounds)
        surface = _basis(small.shape, _POWERS) @ cubic
        swings = surface.max() > small.max() + 3 * max(_noise(small), 1.0)  # above any paper there is
        if flat_paper.sum() < FLAT_ENOUGH * cubic_paper.sum() and not swings:
            coef, powers = cubic, _POWERS
    y, x = np.linspace(-1, 1, gray.shape[0])[:, None], np.linspace(-1, 1, gray.shape[1])[None, :]
    surface = np.zeros(gray.shape) + sum(c * x**i * y**j for c, (i, j) in zip(coef, powers))
    return np.minimum(surface, _ceiling(small, gray.shape)) if len(powers) > 1 else surface


def _ceiling(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The brightest pixel within a quarter of the picture around each point, at ``shape``: a cubic
    paper is cut to it, where it would overshoot in a corner the writing leaves loose (not applied
    to a flat paper: a bold scan's strokes can fill such a window)."""
    window = max(9, round(0.25 * max(small.shape)))
    return resize(maximum_filter(small, size=window), shape)


def _robust_fit(small: np.ndarray, powers: list[tuple[int, int]], rounds: int) -> tuple[np.ndarray, np.ndarray]:
    """The coefficients of the monomials ``powers`` fitted to the paper of ``small`` (see
    :func:`paper_brightness`), and which pixels (raveled) were taken as the paper."""
    basis = _basis(small.shape, powers)
    values = small.ravel()
    tolerance = 3 * max(_noise(small), 1.0)
    keep = np.ones(values.size, dtype=bool)
    for step in range(rounds):
        chosen = basis[keep]  # normal equations: a 10×10 solve, faster than lstsq's SVD
        coef = np.linalg.solve(chosen.T @ chosen + 1e-9 * np.eye(basis.shape[1]), chosen.T @ values[keep])
        residual = values - basis @ coef
        keep = residual >= 0 if step < rounds // 2 else residual > -tolerance
    return coef, keep if keep.any() else np.ones(values.size, dtype=bool)


_POWERS = [(i, j) for i in range(4) for j in range(4 - i)]
"""The exponents of the ten monomials x^i y^j with i + j ≤ 3 (the constant first)."""


def _basis(shape: tuple[int, int], powers: list[tuple[int, int]]) -> np.ndarray:
    """The monomials x^i y^j on a grid spanning [-1, 1]², one row per pixel."""
    y, x = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")
    x, y = x.ravel(), y.ravel()
    return np.stack([x**i * y**j for i, j in powers], axis=1)


def _noise(values: np.ndarray) -> float:
    """Robust noise σ of a picture: the median absolute deviation of its horizontal differences / √2."""
    diff = np.diff(values, axis=1)
    return float(1.4826 * np.median(np.abs(diff - np.median(diff))) / np.sqrt(2)) if diff.size else 0.0


def _is_ruled_line(region: Any, shape: tuple[int, int]) -> bool:
    """A long thin mark across much of the sheet: a ruled line or the paper's edge, not writing."""
    top, left, bottom, right = region.bbox
    height, width = bottom - top, right - left
    return width >= 0.5 * shape[1] and height <= 0.2 * width


def digit_ink(image: np.ndarray, source: str = "image") -> np.ndarray:
    """The ink of the one digit in a picture, 0–1 (1 = a full stroke), zero elsewhere.

    The digit is the component with the most ink among those tall enough to be one, together with
    the parts of a broken stroke: components at least a tenth of its size within a third of its
    height of its box, and those at least 2% of its size inside its box. A picture whose
    strongest mark does not stand out from the noise is an error naming ``source``.
    """
    found = ink_map(image)
    candidates = [r for r in found.regions if tall_enough(r, found.ink.shape)]
    if not candidates:
        raise no_digit_error(source)
    main = max(candidates, key=lambda r: r.area * r.intensity_mean)
    near = [
        r
        for r in found.regions
        if r is main
        or (r.area >= 0.1 * main.area and _near(r, main, 1 / 3))
        or (r.area >= 0.02 * main.area and _near(r, main, 0))
    ]
    return ink_strength(found, [r.label for r in near], source)


def tall_enough(region: Any, shape: tuple[int, int]) -> bool:
    """A mark that can be a digit: at least :data:`MIN_HEIGHT` of the picture's short side (and 4 px)."""
    return region.bbox[2] - region.bbox[0] >= max(4, MIN_HEIGHT * min(shape))


def _near(region: Any, main: Any, reach: float) -> bool:
    """Whether ``region``'s box overlaps ``main``'s box grown by ``reach`` times its height."""
    t0, l0, b0, r0 = main.bbox
    t1, l1, b1, r1 = region.bbox
    reach = (b0 - t0) * reach
    return t1 < b0 + reach and b1 > t0 - reach and l1 < r0 + reach and r1 > l0 - reach


def no_digit_error(source: str) -> Exception:
    return input_error(tr("{source}: no digit found (the image is blank, uniform or only noise)").format(source=source))


def ink_strength(found: InkMap, keep: list[int], source: str, within: np.ndarray | None = None) -> np.ndarray:
    """Ink of the components ``keep`` scaled so a stroke is 1, grown to the fainter pixels touching it
    (only within the ``within`` mask, when given: a digit of a number does not grow into its neighbour)."""
    core = np.isin(found.labels, keep)
    level = float(np.median(found.ink[core & (found.ink >= found.high)])) if core.any() else 0.0
    if level < max(MIN_CONTRAST, NOISE_FACTOR * found.sigma):
        raise no_digit_error(source)
    faint = found.ink >= max(SUPPORT * level, 3 * found.sigma)
    faint_labels = label(faint, connectivity=2)
    support = np.isin(faint_labels, np.unique(faint_labels[core])) & faint
    if within is not None:
        support &= within
    return np.clip(found.ink / level, 0, 1) * support


STROKE_SHARE = 0.09
"""A digit's strokes thinner than this share of its height are thickened before it is shrunk to
MNIST's 20×20 box: MNIST's are 2–3 px there (0.1–0.15); a ballpoint or pencil on a large picture is
0.01–0.03 and shrinks to faint hairlines, whole bars lost (a 4 read as 1, every answer uncertain)."""


def thickened(crop: np.ndarray) -> np.ndarray:
    """``crop`` (a digit's ink, 0 off it) with its strokes widened by a maximum filter to
    :data:`STROKE_SHARE` of its longer side when they are thinner; bolder digits are returned as
    they are. Stroke width is measured as twice the ink's area over its edge pixels."""
    ink = np.pad(crop >= 0.5 * crop.max(), 1)
    inner = ink[1:-1, 1:-1] & ink[:-2, 1:-1] & ink[2:, 1:-1] & ink[1:-1, :-2] & ink[1:-1, 2:]
    area = int(ink.sum())
    width = 2 * area / max(area - int(inner.sum()), 1)
    grow = round(STROKE_SHARE * max(crop.shape) - width)
    if grow < 1:
        return crop
    wide = maximum_filter(np.pad(crop, grow), size=grow + 1)
    rows, cols = np.nonzero(wide.max(axis=1) > 0)[0], np.nonzero(wide.max(axis=0) > 0)[0]
    return wide[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
