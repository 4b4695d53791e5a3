"""Saving what a model saw: the 28×28 inputs ``predict`` made, one PNG per picture or one grid.

``predict --show-input TARGET``: when TARGET is an existing folder, each input gets
``<stem>-seen.png`` there; otherwise TARGET is one PNG: the 28×28 itself for one single-digit
input (as MNIST stores it), or a grid of them for several inputs or a number's digits.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .errors import input_error

GRID_COLUMNS = 10
"""Single digits are laid out this many to a row."""
GAP = 2
"""Pixels of gray between tiles."""
GAP_VALUE = 96
"""The gaps' gray level: between MNIST's black field and its white strokes."""


def plan_seen(target: str | os.PathLike[str], names: list[str]) -> list[Path]:
    """The file each input's view goes to, checked before any work: an error names ``target``.

    A folder gives ``<folder>/<stem>-seen.png`` per input (two inputs with one stem are an
    error); a file name is shared by every input (one grid).
    """
    from .images import source_stem
    from .outputs import check_output_path

    out = Path(target)
    if not out.is_dir():
        check_output_path(out, inputs=tuple(n for n in names if Path(n).exists()))
        return [out] * len(names)
    stems = [re.sub(r"[^\w.-]+", "-", source_stem(name)).strip("-") or "input" for name in names]
    repeated = sorted({s for s in stems if stems.count(s) > 1})
    if repeated:
        raise input_error(f"{out}: several inputs would write {repeated[0]}-seen.png; give a file name for one grid")
    return [out / f"{stem}-seen.png" for stem in stems]


def seen_grid(groups: list[list[np.ndarray]]) -> np.ndarray:
    """Tiles of 28×28 digits as one uint8 picture: one row per group of several digits (a number),
    or single digits :data:`GRID_COLUMNS` to a row; :data:`GAP` px of gray between tiles."""
    if all(len(g) == 1 for g in groups):
        flat = [g[0] for g in groups]
        groups = [flat[i : i + GRID_COLUMNS] for i in range(0, len(flat), GRID_COLUMNS)]
    if len(groups) == 1 and len(groups[0]) == 1:
        return np.asarray(groups[0][0], dtype=np.uint8)
    size = np.asarray(groups[0][0]).shape[0]
    columns = max(len(g) for g in groups)
    grid = np.full((len(groups) * (size + GAP) - GAP, columns * (size + GAP) - GAP), GAP_VALUE, dtype=np.uint8)
    for row, group in enumerate(groups):
        for col, digit in enumerate(group):
            top, left = row * (size + GAP), col * (size + GAP)
            grid[top : top + size, left : left + size] = digit
    return grid


def write_seen(targets: list[Path], groups: list[list[np.ndarray]]) -> list[Path]:
    """Write each input's digits (``groups[i]``) to ``targets[i]``; inputs sharing a file share a grid."""
    from .images import write_array

    if targets and len(set(targets)) == 1:
        write_array(targets[0], seen_grid(groups).astype(np.float32))
        return targets
    for target, group in zip(targets, groups):
        write_array(target, seen_grid([group]).astype(np.float32))
    return targets
