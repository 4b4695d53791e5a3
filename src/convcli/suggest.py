"""Close-match suggestions for mistyped names (kernels, samples, presets, layers)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {matches[0]!r}?)" if matches else ""
