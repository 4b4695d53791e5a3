"""A number written on one line: its digits, left to right, and the separators between them.

:func:`number_marks` takes a picture's ink map (:mod:`convcli.prediction.digits`: lighting, paper and ruled
lines already removed) and splits it by connected components, never by column projection:
slanted digits overlap in columns without touching, and stay apart. Parts of one broken digit
(a "0" cut in two, a "5" whose bar floats) are joined when they are stacked in one column range.
Separators are recognised by their shape and kept as what they are, not read as digits: a slash
(``/``, a straight stroke leaning well past the writing's own slant, as in ``12/05/2024``), a
hyphen (``-``, a short bar at mid height) and a dot (``.``, a speck on the baseline).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from .digits import InkMap, ink_map, ink_strength, no_digit_error, tall_enough

Box = tuple[int, int, int, int]

MAIN_HEIGHT = 0.5
"""A component at least this fraction of the line's height is a digit (or a slash); smaller ones
are parts of a digit, separators, or specks."""
SLASH_LEAN = 0.3
"""A slash leans this much more (columns per row) than the writing's median slant…"""
SLASH_THIN = 0.12
"""…and is this straight: the spread across its axis at most this fraction of the spread along it
(pen slashes measure 0.08–0.11; MNIST's ones 0.08–0.24, median 0.14: a one leaning well past the
writing and drawn as thin as a pen line reads as a slash, about 1 in 14 ones in the benchmark)."""
SLASH_LEAN_MIN = 0.15
"""A stroke leaning less than this past the writing is a digit, whatever the number's form."""
DATE_BONUS = 5.5
"""Two slashes making a date (``12/05/2024``, ``2024/05/12``) count as much as this much more
lean (in tenths of a column per row, :func:`_slash_evidence`): a date's two slashes are taken
down to 0.16 past the writing's lean each (0.3 − this / 40). Strongly sheared writing makes its
digits' principal axes lean more, and the margin shrinks (0.21 for both of one benchmark date);
Liberation Sans, Arial's metric twin, sets its slash only 0.18 past its digits' own lean (4.0, a
0.2 margin, read its dates as ``1210512024``; the 240 pen-stroke numbers read the same either way)."""
LONE_SLASH = 8.0
"""Slashes that do not make a date (a fraction, ``3/4``) are read only when they lean at least
0.7 past the writing (0.3 + this / 20 for one): a pen-stroke "1" leaning like a slash among digits
(up to 0.66 in the benchmark), or a font's straight "7", is far more common than a fraction."""
MIXED_SEPARATORS = 4.0
"""Slashes beside dots or hyphens in one number (``1/4-7099``) need 0.2 more lean each."""
MAX_SLASH_CHOICES = 8
"""Up to this many slash-like strokes are weighed together (2⁸ choices)."""
PART_REACH = 0.25
"""A small mark over no digit's columns joins the nearest digit when its ink is this close
(fraction of the line's height); farther, it is a speck and left out."""
DOT_SOLID = 0.9
"""A dot is a convex blob (its ink fills at least this share of its convex hull): the broken-off
end of a stroke is a bent or ragged piece (0.79–0.96 in the benchmark, pen dots 0.97–1)."""
SEPARATOR_GAP = 0.08
"""A dot or hyphen stands at least this fraction of the line's height clear of every digit's ink;
a mark that close under a slanted digit is a part of it (the tail of a broken stroke)."""
MNIST_LEAN = 0.13
"""The median lean of MNIST's training digits (their ink's principal axis, columns per row up):
writing that leans more is sheared back to it before the 28×28, as the model learned digits."""
UNSLANT_FROM = 0.1
"""Writing leaning at least this much more or less than :data:`MNIST_LEAN` is sheared back
(numbers of three digits or more: the median of fewer is the digits' own shapes)."""


@dataclass
class NumberMarks:
    """Each digit's (box, ink 0–1) left to right, and each separator as (digits before it, char, box).

    Boxes are (top, left, bottom, right) in the picture's pixels; inks are the working picture's."""

    digits: list[tuple[Box, np.ndarray]]
    separators: list[tuple[int, str, Box]] = field(default_factory=list)


def number_marks(image: np.ndarray, source: str = "image") -> NumberMarks:
    """The digits and separators of a number written on one line in ``image`` (gray, any polarity)."""
    found = ink_map(image)
    candidates = [r for r in found.regions if tall_enough(r, found.ink.shape)]
    if not candidates:
        raise no_digit_error(source)
    line_top, line_bottom = _line_band(candidates)
    height = line_bottom - line_top
    on_line = [r for r in found.regions if r.bbox[0] < line_bottom and r.bbox[2] > line_top]
    mains = [r for r in on_line if r.bbox[2] - r.bbox[0] >= MAIN_HEIGHT * height]
    small = [r for r in on_line if r.bbox[2] - r.bbox[0] < MAIN_HEIGHT * height]
    groups = _stacked([[r] for r in sorted(mains, key=lambda r: r.bbox[1])])
    separators: list[tuple[int, str | None, list[Any]]] = []
    leftover = []
    lean = float(np.median([_lean(g) for g in groups])) if groups else 0.0
    for region in small:
        char = _separator(region, line_top, height)
        owner = _owner(region, groups, lean, line_bottom)
        clear = owner is None or _distance(region, groups) >= SEPARATOR_GAP * height
        if char is not None and clear:
            separators.append((region.bbox[1], char, [region]))
        elif owner is not None:
            owner.append(region)  # a part of a broken digit
        else:
            leftover.append(region)
    # the halves of a digit broken across its middle, each under MAIN_HEIGHT: stacked, one digit
    pieces = []
    for group in _stacked([[r] for r in sorted(leftover, key=lambda r: r.bbox[1])]):
        (groups if _box(group)[2] - _box(group)[0] >= MAIN_HEIGHT * height else pieces).append(group)
    for piece in pieces:  # a floating bar (a "5"'s) beside its digit, not under it: the nearest one
        near = min(groups, key=lambda g: _distance(piece, [g]), default=None)
        if near is not None and _distance(piece, [near]) <= PART_REACH * height:
            near.extend(piece)
    groups.sort(key=lambda g: _box(g)[1])
    separators = _between_digits(separators, groups, PART_REACH * height)
    slant = float(np.median([_lean(g) for g in groups])) if groups else 0.0
    slashes = _slashes(groups, [(left, char) for left, char, _ in separators], slant)
    marks = separators + [(_box(g)[1], "/" if k in slashes else None, g) for k, g in enumerate(groups)]
    shear = slant - MNIST_LEAN if len(groups) >= 3 and abs(slant - MNIST_LEAN) >= UNSLANT_FROM else 0.0
    return _read(found, sorted(marks, key=lambda m: m[0]), source, shear)


def _between_digits(
    separators: list[tuple[int, str | None, list[Any]]], groups: list[list[Any]], reach: float
) -> list[tuple[int, str | None, list[Any]]]:
    """The dots and hyphens that stand between two digits: one that starts or ends the number or
    stands beside another separator is the broken end of a stroke or a speck (a minus sign or a
    full stop is not read), and joins the nearest digit within ``reach`` px or is left out."""
    kept = sorted(separators, key=lambda m: m[0])
    while True:
        order = sorted([(left, k) for k, (left, _, _) in enumerate(kept)] + [(_box(g)[1], -1) for g in groups])
        kinds = [k for _, k in order]
        stray = {
            k
            for i, k in enumerate(kinds)
            if k >= 0 and (i == 0 or i == len(kinds) - 1 or kinds[i - 1] >= 0 or kinds[i + 1] >= 0)
        }
        if not stray:
            return kept
        for k in stray:
            region = kept[k][2][0]
            near = min(groups, key=lambda g: _distance(region, [g]), default=None)
            if near is not None and _distance(region, [near]) <= reach:
                near.append(region)
        kept = [m for k, m in enumerate(kept) if k not in stray]


def _line_band(candidates: list[Any]) -> tuple[int, int]:
    """The rows of the line of writing: those of the tallest mark, widened to the median top and
    bottom of the marks that share its rows (a tall slash or a descender does not set it alone)."""
    tallest = max(candidates, key=lambda r: (r.bbox[2] - r.bbox[0], r.area))
    t0, b0 = tallest.bbox[0], tallest.bbox[2]
    same = [r for r in candidates if r.bbox[0] < b0 and r.bbox[2] > t0 and r.bbox[2] - r.bbox[0] >= (b0 - t0) / 3]
    return int(np.median([r.bbox[0] for r in same])), int(np.median([r.bbox[2] for r in same]))


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def _box(group: list[Any]) -> Box:
    """The (top, left, bottom, right) box around a group of regions."""
    boxes = np.array([r.bbox for r in group])
    return int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max())


def _stacked(groups: list[list[Any]]) -> list[list[Any]]:
    """Groups joined while two are stacked: sharing at least half the narrower one's columns and
    at most half the shorter one's rows (the halves of a broken digit, not slanted neighbours)."""
    joined = True
    while joined:
        joined = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = _box(groups[i]), _box(groups[j])
                cols = _overlap((a[1], a[3]), (b[1], b[3]))
                rows = _overlap((a[0], a[2]), (b[0], b[2]))
                if cols >= 0.5 * min(a[3] - a[1], b[3] - b[1]) and rows <= 0.5 * min(a[2] - a[0], b[2] - b[0]):
                    groups[i] = groups[i] + groups.pop(j)
                    joined = True
                    break
            if joined:
                break
    return groups


def _owner(region: Any, groups: list[list[Any]], lean: float, baseline: int) -> list[Any] | None:
    """The digit a small part belongs to: the group sharing most of its columns (at least half),
    the writing's slant taken out (columns moved back by ``lean`` per row above ``baseline``):
    the floating bar of a slanted "5" stands over its own body, not over the next digit."""

    def upright(coords: np.ndarray) -> tuple[float, float]:
        x = coords[:, 1] - lean * (baseline - coords[:, 0])
        return float(x.min()), float(x.max()) + 1

    span = upright(region.coords)
    best, most = None, 0.5 * (span[1] - span[0])
    for group in groups:
        shared = _overlap(span, upright(np.concatenate([r.coords for r in group])))
        if shared >= most and shared > 0:
            best, most = group, shared
    return best


def _distance(region: Any, groups: list[list[Any]]) -> float:
    """The shortest distance from ``region``'s ink (a region or a list of them) to any group's
    ink, in pixels."""
    from scipy.spatial import cKDTree

    ink = np.concatenate([r.coords for g in groups for r in g]) if groups else np.zeros((0, 2))
    own = np.concatenate([r.coords for r in region]) if isinstance(region, list) else region.coords
    return float(cKDTree(ink).query(own, k=1)[0].min()) if len(ink) else float("inf")


def _lean(group: list[Any]) -> float:
    """How far a mark leans right per row up (the slope of its ink's principal axis, x per −y)."""
    coords = np.concatenate([r.coords for r in group]).astype(np.float64)
    if len(coords) < 3:
        return 0.0
    cov = np.cov(coords.T)  # rows (y) and columns (x)
    return float(-cov[0, 1] / cov[0, 0]) if cov[0, 0] > 0 else 0.0


def _slash_evidence(group: list[Any], slant: float) -> float | None:
    """How much a mark looks like a slash rather than a "1": its lean past the writing's, less
    :data:`SLASH_LEAN`, in tenths (positive: a slash by its shape alone); None for a mark that is
    not one straight thin stroke leaning at least :data:`SLASH_LEAN_MIN` more than the writing."""
    if len(group) != 1 or len(group[0].coords) < 3:
        return None
    spread = np.sqrt(np.maximum(np.linalg.eigvalsh(np.cov(group[0].coords.astype(np.float64).T)), 0))
    margin = _lean(group) - slant
    if spread[0] > SLASH_THIN * spread[1] or margin < SLASH_LEAN_MIN:
        return None
    return (margin - SLASH_LEAN) / 0.1


def _slashes(groups: list[list[Any]], others: list[tuple[int, str]], slant: float) -> set[int]:
    """Which digit-sized marks are slashes: of every choice among the slash-like strokes
    (:func:`_slash_evidence`), the one whose shapes and whose number's form (:func:`_form_score`)
    agree best. A "1" leaning as much as a slash is told apart by where it stands."""
    evidence = {k: e for k, g in enumerate(groups) if (e := _slash_evidence(g, slant)) is not None}
    if not evidence:
        return set()
    if len(evidence) > MAX_SLASH_CHOICES:  # too many to weigh together: the shapes alone decide
        return {k for k, e in evidence.items() if e >= 0}
    best, best_score = set(), -np.inf
    for size in range(len(evidence) + 1):
        for chosen in combinations(sorted(evidence), size):
            marks = sorted(
                [(left, char) for left, char in others]
                + [(_box(g)[1], "/" if k in chosen else "d") for k, g in enumerate(groups)]
            )
            score = sum(evidence[k] for k in chosen) - sum(e for k, e in evidence.items() if k not in chosen)
            score += _form_score("".join(char for _, char in marks))
            if score > best_score:
                best, best_score = set(chosen), score
    return best


def _form_score(form: str) -> float:
    """How plausible a number's form is (``d`` a digit, else the separator), in the units of
    :func:`_slash_evidence`: a slash never starts or ends a number nor stands beside another
    separator, and there are at most two; two making a date gain :data:`DATE_BONUS`, any other
    use (a fraction, ``3/4``) loses :data:`LONE_SLASH`, and slashes beside dots or hyphens lose
    :data:`MIXED_SEPARATORS` more."""
    count = form.count("/")
    if not count:
        return 0.0
    if form[0] == "/" or form[-1] == "/" or count > 2 or re.search(r"[/.-]/|/[.-]", form):
        return -np.inf
    date = re.fullmatch(r"d{1,2}/d{1,2}/d{2,4}|d{4}/d{1,2}/d{1,2}", form)
    score = DATE_BONUS if date else -LONE_SLASH
    return score - MIXED_SEPARATORS * bool(re.search(r"[.-]", form))


def _separator(region: Any, line_top: int, height: int) -> str | None:
    """A small mark on the line as a separator: ``-`` a bar at mid height, ``.`` a speck on the
    baseline; None for anything else (a speck of dust above the line)."""
    top, left, bottom, right = region.bbox
    h, w = bottom - top, right - left
    middle = ((top + bottom) / 2 - line_top) / height
    if h >= 0.35 * height or w > 1.2 * height:
        return None
    if w >= 1.5 * h and 0.25 <= middle <= 0.8 and w >= 0.15 * height:
        return "-"
    if middle >= 0.7 and w <= 0.4 * height and h >= 0.05 * height and solidity(region) >= DOT_SOLID:
        return "."
    return None


def solidity(region: Any) -> float:
    """The share of its convex hull that a mark fills (``regionprops``'s ``solidity``: area over the
    area of ``convex_hull_image`` of the mark's own box)."""
    from skimage.morphology import convex_hull_image

    top, left, bottom, right = region.bbox
    mask = np.zeros((bottom - top, right - left), dtype=bool)
    mask[region.coords[:, 0] - top, region.coords[:, 1] - left] = True
    return float(region.area) / float(convex_hull_image(mask).sum())


def _read(
    found: InkMap, marks: list[tuple[int, str | None, list[Any]]], source: str, shear: float = 0.0
) -> NumberMarks:
    """Each digit's ink (grown only into pixels nearer to it than to any other mark, sheared
    back by ``shear``) and the separators, by position."""
    from skimage.segmentation import expand_labels

    cores = np.zeros(found.labels.shape, dtype=np.int32)
    for k, (_, _, group) in enumerate(marks):
        cores[np.isin(found.labels, [r.label for r in group])] = k + 1
    reach = max(2, round(0.1 * max((_box(g)[2] - _box(g)[0] for _, _, g in marks), default=20)))
    owners = expand_labels(cores, distance=reach)
    result = NumberMarks([])
    for k, (_, char, group) in enumerate(marks):
        box = tuple(round(v / found.scale) for v in _box(group))
        if char is None:
            ink = ink_strength(found, [r.label for r in group], source, owners == k + 1)
            result.digits.append((box, unslant(ink, shear) if shear else ink))  # type: ignore[arg-type]
        else:
            result.separators.append((len(result.digits), char, box))  # type: ignore[arg-type]
    if not result.digits:
        raise no_digit_error(source)
    return result


def unslant(ink: np.ndarray, shear: float) -> np.ndarray:
    """``ink`` cropped to its strokes and sheared so that it leans ``shear`` columns per row less
    (Pillow's affine transform, bilinear; rows keep their place, the crop is widened to fit)."""
    from PIL import Image

    rows, cols = np.nonzero(ink.max(axis=1) > 0)[0], np.nonzero(ink.max(axis=0) > 0)[0]
    if not rows.size:
        return ink
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height = crop.shape[0]
    pad = int(np.ceil(abs(shear) * height)) + 1
    wide = np.pad(crop, ((0, 0), (pad, pad))).astype(np.float32)
    # output (x, y) takes input (x − shear·(y − bottom), y): the bottom row stays, the top moves back
    matrix = (1.0, -shear, shear * (height - 1), 0.0, 1.0, 0.0)
    image = Image.fromarray(wide, mode="F").transform(
        (wide.shape[1], height), Image.Transform.AFFINE, matrix, resample=Image.Resampling.BILINEAR
    )
    return np.clip(np.asarray(image, dtype=np.float64), 0, 1)
