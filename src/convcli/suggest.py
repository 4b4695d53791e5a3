"""Close-match suggestions for mistyped names (kernels, samples, presets, layers)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from .i18n import tr as _


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return _(" (did you mean {name}?)").format(name=repr(matches[0])) if matches else ""
