"""The written forms a layer spec's text may take: where layers and arguments split, and what
one argument's value is. Shared by the compact syntax (``conv(32,3,strides=2x1,padding=1)``)
and Keras's own call syntax as the lecture writes it (``Conv2D(64, kernel_size=3,
activation="relu")``, ``MaxPooling2D(pool_size=(2,2))``, ``strides=(1,1)``).

Values are read with :func:`ast.literal_eval` (numbers, quoted strings, tuples and lists of
them), never executed; a bare word (``relu``, ``same``, ``input_shape``) stays a string, and
``2x1`` is the pair (2, 1). (Moves to ``models/`` with the package layout of issue 22.)
"""

from __future__ import annotations

import ast
import re
from typing import Any

from ..errors import input_error
from ..i18n import tr

_OPEN, _CLOSE = "([{", ")]}"
_PAIR = re.compile(r"\s*(\d+)\s*[x×X]\s*(\d+)\s*")


def scan(text: str) -> list[tuple[int, str, int]]:
    """(index, character, bracket depth before it) for each character outside quoted strings;
    a bracket that closes nothing, or text that ends inside a bracket or a string, is an error
    naming its column."""
    out: list[tuple[int, str, int]] = []
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
            continue
        if ch in "'\"":
            quote = ch
            continue
        out.append((i, ch, depth))
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
            if depth < 0:
                raise input_error(tr("layer spec: unmatched {ch!r} at column {column}").format(ch=ch, column=i + 1))
    if quote:
        raise input_error(tr("layer spec: unclosed {quote} (a quoted string never ends)").format(quote=quote))
    if depth:
        raise input_error(tr("layer spec: unclosed '(' (the spec ends inside a layer's arguments)"))
    return out


def split_top_level(text: str) -> list[tuple[str, int]]:
    """Split on commas outside brackets and quotes, keeping each piece's start column."""
    pieces: list[tuple[str, int]] = []
    start = 0
    for i, ch, depth in scan(text):
        if ch == "," and depth == 0:
            pieces.append((text[start:i], start))
            start = i + 1
    pieces.append((text[start:], start))
    return pieces


def missing_commas(text: str) -> list[int]:
    """Where layers follow each other with only spaces between them (outside brackets and
    quotes): the index of each such gap's first space."""
    gaps: list[int] = []
    previous, gap = "", -1
    for i, ch, depth in scan(text):
        if ch.isspace():
            if depth == 0 and gap < 0:
                gap = i
            continue
        if depth == 0 and gap >= 0 and (ch.isalpha() or ch == "_") and (previous == ")" or previous.isalnum()):
            gaps.append(gap)
        previous, gap = ch, -1
    return gaps


def split_keyword(part: str) -> tuple[str | None, str]:
    """``key=value`` as (key, value) when the ``=`` is outside brackets and quotes, else (None, part)."""
    for i, ch, depth in scan(part):
        if ch == "=" and depth == 0:
            return part[:i], part[i + 1 :]
    return None, part


def parse_value(raw: str) -> Any:
    """One argument's value: an int, a float, a string (quoted or a bare word), or a tuple
    (``(2,2)``, ``[2, 2]``, ``2x1``). Nothing is executed."""
    raw = raw.strip()
    if re.fullmatch(r"[+-]?\d+", raw):
        return int(raw)
    pair = _PAIR.fullmatch(raw)
    if pair:
        return int(pair[1]), int(pair[2])
    if raw[:1] in "'\"([" and len(raw) <= 1000:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise input_error(tr("layer spec: cannot read the value {raw!r}").format(raw=raw)) from None
        return tuple(value) if isinstance(value, list) else value
    try:
        return float(raw)
    except ValueError:
        return raw


def as_pair(value: Any) -> tuple[Any, Any]:
    """An int as (n, n); a pair as it is (Keras's ``kernel_size=3`` or ``(3, 3)``)."""
    if isinstance(value, tuple) and len(value) == 2:
        return value
    return value, value
