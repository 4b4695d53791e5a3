"""Ruled lines on notebook paper: found across the sheet and erased from a picture's ink map,
except where a stroke of the writing crosses or rests on them.

A ruled line touching a digit joins it in one connected component, so a digit on lined paper
would be cropped together with the grid. A line is told from writing by its extent: it runs
across (almost) the whole sheet, thin and straight, at the sheet's angle. The search is a
Hough transform restricted to near-horizontal (and near-vertical) lines, written as one numpy
``bincount`` of the ink pixels' sheared rows per angle, so that each bin counts how many
columns a line of that row and slope covers (``skimage.transform.hough_line`` counts pixels,
which a thick digit bar inflates, and ranges over all angles). Each line found is erased
column by column, keeping the columns where ink runs on above or below the line's own
thickness: a stroke crossing the line or ending on it is kept whole, so no repair is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SLOPES = np.tan(np.deg2rad(np.arange(-10.0, 10.01, 0.5)))
"""Sheet angles searched (±10°, the tilt of a photo taken by hand), refined to 0.1° around the best."""
HORIZONTAL_COVER = 0.6
"""A horizontal ruled line covers at least this fraction of the columns it could cross…"""
VERTICAL_COVER = 0.85
"""…a vertical one (a margin) this fraction of the rows: a "1" may span most of a tight crop."""
REACH = 0.85
"""…and, when it is thin only by :data:`MAX_THICKNESS`'s 4-pixel floor (a small picture, where a
digit's bar is as thin), runs from end to end across this fraction of them, as a bar inside its
margins does not."""
MAX_THICKNESS = 0.03
"""A ruled line is at most this fraction of the sheet's side thick (4 px at least): thicker long
dark bands are a table's edge or a shadow, left to the component rules of convcli.prediction.digits."""


@dataclass(frozen=True)
class Ruling:
    """One ruled line in a (H, W) picture's row frame: rows ``first``…``last`` at column 0,
    shifted by ``slope`` rows per column (transposed for vertical lines)."""

    slope: float
    first: int
    last: int
    vertical: bool = False


def erase_rulings(ink: np.ndarray, low: float) -> tuple[np.ndarray, list[Ruling]]:
    """``ink`` with its ruled lines set to 0 (strokes crossing them kept), and the lines found.

    ``low``: the faintest ink that counts (the pixels the digit's faint support may reach), so
    that a line's faint edges are erased with it.
    """
    mask = ink >= low
    cleaned = ink.copy()
    found: list[Ruling] = []
    for vertical, cover in ((False, HORIZONTAL_COVER), (True, VERTICAL_COVER)):
        view_mask, view_ink = (mask.T, cleaned.T) if vertical else (mask, cleaned)
        for line in _find_lines(view_mask, cover):
            _erase(view_ink, view_mask, line)
            found.append(Ruling(line.slope, line.first, line.last, vertical))
    return cleaned, found


def _profile(ys: np.ndarray, xs: np.ndarray, slope: float, shape: tuple[int, int]) -> tuple[np.ndarray, int]:
    """Columns covered per sheared row ``round(y − slope·x)`` of a ``shape`` picture (each pixel of
    a column counts once per row bin), and the offset that makes the bins non-negative."""
    shift = int(np.ceil(abs(slope) * shape[1])) + 1
    bins = np.rint(ys - slope * xs).astype(np.int64) + shift
    return np.bincount(bins, minlength=shape[0] + 2 * shift + 1), shift


def _find_lines(mask: np.ndarray, cover: float) -> list[Ruling]:
    """Near-horizontal lines of ``mask``: the sheet's slope is the one whose row profile is
    sharpest (sum of squares, the classic skew estimate); lines are the runs of row bins covering
    ``cover`` of the columns they can cross, no thicker than :data:`MAX_THICKNESS`."""
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    if ys.size < cover * width:
        return []
    best = max(SLOPES, key=lambda s: _sharpness(ys, xs, s, mask.shape))
    fine = best + np.tan(np.deg2rad(np.arange(-0.4, 0.41, 0.1)))
    slope = float(max(fine, key=lambda s: _sharpness(ys, xs, s, mask.shape)))
    counts, shift = _profile(ys, xs, slope, mask.shape)
    every_y, every_x = np.mgrid[0:height, 0:width]
    capacity = np.bincount(
        np.rint(every_y.ravel() - slope * every_x.ravel()).astype(np.int64) + shift, minlength=counts.size
    )[: counts.size]
    ratio = counts / np.maximum(capacity, 1)
    is_line = (ratio >= cover) & (capacity >= 0.5 * width)
    thin = MAX_THICKNESS * max(height, width)
    thickest = max(4, round(thin))
    bins = np.rint(ys - slope * xs).astype(np.int64) + shift
    lines = []
    for first, last in _runs(is_line):
        thickness = last - first + 1
        if thickness > thickest:
            continue
        # thin for the sheet's size, or thin only by the 4-pixel floor (a small picture) and then
        # running from end to end, which a digit's bar inside its margins does not
        if thickness <= thin or _reaches_across(xs[(bins >= first) & (bins <= last)], capacity[first : last + 1]):
            lines.append(Ruling(slope, first - shift, last - shift))
    return lines


def _reaches_across(xs: np.ndarray, capacity: np.ndarray) -> bool:
    """Whether a line's ink (its pixels' columns ``xs``) runs from end to end of the columns it can
    cross (:data:`REACH` of them): a ruled line does; a digit's bar inside its margins, such as a
    2's foot on a small dark-on-white picture, does not (erased, the 2 was read as a 7)."""
    return xs.size > 0 and (int(xs.max()) - int(xs.min()) + 1) >= REACH * float(capacity.max())


def _sharpness(ys: np.ndarray, xs: np.ndarray, slope: float, shape: tuple[int, int]) -> float:
    counts, _ = _profile(ys, xs, slope, shape)
    return float(np.dot(counts.astype(np.float64), counts))


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) indices of each run of True values."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.diff(padded)
    return list(zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1))


def _erase(ink: np.ndarray, mask: np.ndarray, line: Ruling) -> None:
    """Set ``line``'s rows (one more each side for its soft edge) to 0 in ``ink``, in every
    column where the ink does not run on for the line's thickness (at least 2 px) right above or
    right below it: there a stroke crosses the line or ends on it, and the column is kept."""
    height, width = mask.shape
    thickness = line.last - line.first + 1
    reach = max(2, thickness)
    xs = np.arange(width)
    top = np.rint(line.first + line.slope * xs).astype(np.int64)
    bottom = top + thickness - 1
    above = _solid(mask, xs, top - reach, top - 1)
    below = _solid(mask, xs, bottom + 1, bottom + reach)
    erase = ~(above | below)
    for offset in range(-1, thickness + 1):
        rows = top + offset
        inside = erase & (rows >= 0) & (rows < height)
        ink[rows[inside], xs[inside]] = 0.0


def _solid(mask: np.ndarray, xs: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Per column, whether rows ``first``…``last`` are all ink (False where they leave the picture)."""
    height = mask.shape[0]
    solid = (first >= 0) & (last < height)
    for k in range(int((last - first).max()) + 1):
        rows = np.clip(first + k, 0, height - 1)
        solid &= mask[rows, xs]
    return solid
