"""The whole list's output names, fast: what a shard needs to refuse exactly what one run over
the whole list would refuse (two outputs with one name), without naming a million outputs
through :mod:`pathlib` and the file system.

:func:`quick_fields` gives the same template fields as :func:`convcli.filtering.naming.source_fields`
with string operations only (pathlib's ``name``/``stem``/``suffix`` rules, ``os.path.abspath``
for the parent); the shard's own outputs are also named the exact way, and a difference between
the two sends the check the exact way for the whole list.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..filtering.naming import DEFAULT_NAME, is_file_source, render_name, source_fields


def _name(path: str) -> str:
    """pathlib's ``PurePosixPath(path).name``: the last component, '.' parts and slashes dropped."""
    parts = [part for part in path.split("/") if part and part != "."]
    return parts[-1] if parts else ""


def quick_fields(source: str, index: int, *, parent: bool = True) -> dict[str, str | int]:
    """:func:`convcli.filtering.naming.source_fields` without pathlib (the same values); ``parent`` False
    leaves the ``parent`` field empty (a template without ``{parent}`` saves its cost)."""
    if not is_file_source(source):
        return source_fields(source, index)
    name = _name(source)
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot + 1 :]) if 0 < dot < len(name) - 1 else (name, "")
    folder = os.path.basename(os.path.dirname(os.path.abspath(source))) if parent else ""
    return {"stem": stem, "ext": ext, "parent": folder, "index": index}


def quick_names(sources: Sequence[str], kernels: Sequence[str], fmt: str, template: str | None) -> list[list[str]]:
    """Each input's output file names (no folder) for ``kernels``, as
    :func:`convcli.filtering.naming.plan_outputs` names them."""
    template = template or DEFAULT_NAME
    parent = "{parent" in template
    names = []
    for index, source in enumerate(sources, start=1):
        fields = quick_fields(source, index, parent=parent)
        names.append([f"{render_name(template, {**fields, 'kernel': kernel})}.{fmt}" for kernel in kernels])
    return names


def has_clash(names: Sequence[Sequence[str]]) -> bool:
    """Whether two outputs of the list share a name."""
    seen: set[str] = set()
    for name in (n for per_input in names for n in per_input):
        if name in seen:
            return True
        seen.add(name)
    return False
