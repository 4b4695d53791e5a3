"""Saving what a model saw: the inputs ``predict`` made (28×28 digits, or pictures resized for a
model trained on a folder), one PNG per picture or one grid.

``predict --show-input TARGET``: when TARGET is a folder (an existing one, or a name ending in
``/``, made if missing), each input gets ``<stem>-seen.png`` there; otherwise TARGET is one PNG:
the 28×28 itself for one single-digit input (as MNIST stores it), or a grid of them for several
inputs or a number's digits.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..errors import input_error
from ..i18n import tr

GRID_COLUMNS = 10
"""Single digits are laid out this many to a row."""
GAP = 2
"""Pixels of gray between tiles."""
GAP_VALUE = 96
"""The gaps' gray level: between MNIST's black field and its white strokes."""


def plan_seen(target: str | os.PathLike[str], names: list[str]) -> list[Path]:
    """The file each input's view goes to, checked before any work: an error names ``target``.

    A folder (:func:`seen_in_folder`) gives ``<folder>/<stem>-seen.png`` per input (two inputs with
    one stem are an error); a file name is shared by every input (one grid).
    """
    from ..imaging.images import source_stem
    from ..outputs import check_output_path, make_folder

    out = Path(target)
    if not seen_in_folder(target):
        check_output_path(out, inputs=tuple(n for n in names if Path(n).exists()))
        return [out] * len(names)
    stems = [re.sub(r"[^\w.-]+", "-", source_stem(name)).strip("-") or "input" for name in names]
    repeated = sorted({s for s in stems if stems.count(s) > 1})
    if repeated:
        raise input_error(
            tr("{out}: several inputs would write {stem}-seen.png; give a file name for one grid").format(
                out=out, stem=repeated[0]
            )
        )
    targets = [out / f"{stem}-seen.png" for stem in stems]
    if targets:
        make_folder(targets[0])  # "seen/" names a folder even before it exists
    return targets


def seen_in_folder(target: str | os.PathLike[str]) -> bool:
    """Whether ``--show-input TARGET`` names a folder: an existing one, or a name ending in a slash."""
    return Path(target).is_dir() or str(target).endswith(("/", os.sep))


def seen_grid(groups: list[list[np.ndarray]]) -> np.ndarray:
    """Tiles of the inputs seen (28×28 digits, or a folder model's H×W gray or RGB pictures) as
    one uint8 picture: one row per group of several digits (a number), or single inputs
    :data:`GRID_COLUMNS` to a row; :data:`GAP` px of gray between tiles."""
    groups = [[_tile(t) for t in group] for group in groups]
    if all(len(g) == 1 for g in groups):
        flat = [g[0] for g in groups]
        groups = [flat[i : i + GRID_COLUMNS] for i in range(0, len(flat), GRID_COLUMNS)]
    if len(groups) == 1 and len(groups[0]) == 1:
        return groups[0][0]
    (height, width), depth = groups[0][0].shape[:2], groups[0][0].shape[2:]
    columns = max(len(g) for g in groups)
    size = (len(groups) * (height + GAP) - GAP, columns * (width + GAP) - GAP, *depth)
    grid = np.full(size, GAP_VALUE, dtype=np.uint8)
    for row, group in enumerate(groups):
        for col, digit in enumerate(group):
            top, left = row * (height + GAP), col * (width + GAP)
            grid[top : top + height, left : left + width] = digit
    return grid


def _tile(image: np.ndarray) -> np.ndarray:
    """One input as uint8 (H, W) or (H, W, 3): a gray picture's channel axis dropped."""
    tile = np.asarray(image, dtype=np.uint8)
    return tile[:, :, 0] if tile.ndim == 3 and tile.shape[2] == 1 else tile


def write_seen(targets: list[Path], groups: list[list[np.ndarray]]) -> list[Path]:
    """Write each input's digits (``groups[i]``) to ``targets[i]``; inputs sharing a file share a grid."""
    from ..imaging.images import write_array

    if targets and len(set(targets)) == 1:
        write_array(targets[0], seen_grid(groups).astype(np.float32))
        return targets
    for target, group in zip(targets, groups):
        write_array(target, seen_grid([group]).astype(np.float32))
    return targets
