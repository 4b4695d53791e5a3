"""The plain-text matrix format shared by kernel files and matrix inputs/outputs.

Rows of numbers separated by spaces, tabs or commas; ``#`` starts a comment; ``# name:`` and
``# description:`` comment lines are metadata; a blank line separates the slices of a 3-D
array (K×K×C: slice ``c`` is ``array[:, :, c]``); a ``bias: B`` line gives a filter's bias.
Numbers may be written as simple fractions (``1/9``) so blur kernels stay exact.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..errors import ConvcliError, input_error
from ..i18n import tr

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_SEPARATORS = re.compile(r"[\s,]+")
_META = re.compile(r"^#\s*(name|description)\s*:\s*(.*?)\s*$", re.IGNORECASE)
_BIAS = re.compile(r"^bias\s*[:=]\s*(.*?)\s*$", re.IGNORECASE)
MAX_TEXT_BYTES = 64 * 1024 * 1024
"""Text matrices larger than this are refused before parsing (64 MiB)."""


@dataclass
class ParsedMatrix:
    """A parsed matrix text: the array (2-D, or 3-D channel-last), its bias and metadata."""

    array: np.ndarray
    bias: float | None = None
    name: str | None = None
    description: str | None = None


def _line_error(message: str, source: str, lineno: int, **values: object) -> ConvcliError:
    """An input error at line ``lineno`` of ``source``: ``message`` (translated) filled in."""
    return input_error(message.format(source=source, lineno=lineno, **values))


def _number(token: str, source: str, lineno: int) -> float:
    """Parse one number (int, float or ``a/b`` fraction); errors name the file and line."""
    try:
        if "/" in token:
            num, den = token.split("/", 1)
            denominator = float(den)
            if denominator == 0:
                raise _line_error(
                    tr("{source}, line {lineno}: division by zero in {token!r}"), source, lineno, token=token
                )
            value = float(num) / denominator
        else:
            value = float(token)
    except ValueError:
        shown = token if len(token) <= 40 else token[:37] + "..."
        raise _line_error(
            tr("{source}, line {lineno}: {shown!r} is not a number"), source, lineno, shown=shown
        ) from None
    except OverflowError:
        raise _line_error(
            tr("{source}, line {lineno}: {token!r} is too large"), source, lineno, token=token[:40]
        ) from None
    if not math.isfinite(value):
        raise _line_error(
            tr("{source}, line {lineno}: {token!r} is not a finite number"), source, lineno, token=token[:40]
        )
    if abs(value) > _FLOAT32_MAX:
        raise _line_error(
            tr("{source}, line {lineno}: {token!r} is too large for 32-bit floats"), source, lineno, token=token[:40]
        )
    return value


def parse_matrix_text(text: str, source: str = "<text>") -> ParsedMatrix:
    """Parse the matrix text format into a float32 array of shape (H, W) or (H, W, C).

    Raises :class:`~convcli.errors.ConvcliError` naming ``source`` and the line for empty,
    ragged, non-numeric or non-finite input.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    meta: dict[str, str] = {}
    bias: float | None = None
    bias_line = 0
    slices: list[list[list[float]]] = [[]]
    row_lines: list[list[int]] = [[]]
    width: int | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        meta_match = _META.match(line)
        if meta_match:
            meta[meta_match.group(1).lower()] = meta_match.group(2)
            continue
        line = line.split("#", 1)[0].strip()
        if not line:
            if raw.strip() == "" and slices[-1]:
                slices.append([])
                row_lines.append([])
            continue
        bias_match = _BIAS.match(line)
        if bias_match:
            if bias is not None:
                message = tr("{source}, line {lineno}: second bias line (first on line {first})")
                raise _line_error(message, source, lineno, first=bias_line)
            bias = _number(bias_match.group(1), source, lineno)
            bias_line = lineno
            continue
        tokens = [t for t in _SEPARATORS.split(line) if t]
        row = [_number(t, source, lineno) for t in tokens]
        if width is None:
            width = len(row)
        elif len(row) != width:
            message = tr("{source}, line {lineno}: row has {count} values, expected {width} (like line {first})")
            first = row_lines[0][0] if row_lines[0] else lineno
            raise _line_error(message, source, lineno, count=len(row), width=width, first=first)
        slices[-1].append(row)
        row_lines[-1].append(lineno)
    if not slices[-1]:
        slices.pop()
        row_lines.pop()
    if not slices:
        raise input_error(tr("{source}: no numbers found (expected rows of numbers)").format(source=source))
    height = len(slices[0])
    for rows, lines in zip(slices[1:], row_lines[1:]):
        if len(rows) != height:
            message = tr("{source}, line {lineno}: slice has {count} rows, expected {height} like the first slice")
            raise _line_error(message, source, lines[0], count=len(rows), height=height)
    if len(slices) == 1:
        array = np.asarray(slices[0], dtype=np.float32)
    else:
        array = np.stack([np.asarray(s, dtype=np.float32) for s in slices], axis=-1)
    return ParsedMatrix(
        array=array,
        bias=bias,
        name=meta.get("name"),
        description=meta.get("description"),
    )


def _format_value(value: float, integral: bool) -> str:
    if integral:
        return str(int(value))
    return f"{value:.7g}"


def format_matrix(
    array: np.ndarray,
    *,
    name: str | None = None,
    description: str | None = None,
    bias: float | None = None,
) -> str:
    """Write a 2-D or 3-D array in the matrix text format (the inverse of parsing).

    Integral values print without a decimal point, so the lecture's examples read as printed.
    """
    arr = np.asarray(array, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim not in (2, 3):
        raise input_error(tr("cannot write a {ndim}-D array as a text matrix").format(ndim=arr.ndim))
    integral = bool(np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))
    if integral and arr.size and np.abs(arr).max() >= 1e15:
        integral = False
    lines: list[str] = []
    if name:
        lines.append(f"# name: {name}")
    if description:
        lines.append(f"# description: {description}")
    slices = [arr] if arr.ndim == 2 else [arr[:, :, c] for c in range(arr.shape[2])]
    cells = [[[_format_value(v, integral) for v in row] for row in s] for s in slices]
    width = max((len(c) for s in cells for row in s for c in row), default=1)
    for index, s in enumerate(cells):
        if index:
            lines.append("")
        lines.extend(" ".join(c.rjust(width) for c in row) for row in s)
    if bias is not None:
        lines.append(f"bias: {_format_value(bias, float(bias).is_integer())}")
    return "\n".join(lines) + "\n"
