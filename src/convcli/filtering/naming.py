"""Output planning for batches: file names from a template, mirrored folders, and collisions.

Every output of a batch is named before any work, so that two inputs (or two kernels) that
would write the same file are refused up front instead of one silently replacing the other.
Names come from a template (:data:`DEFAULT_NAME`) whose fields are :data:`NAME_FIELDS`; with
``parents`` each input's folder is mirrored under the output folder, like ``cp --parents``.
Paths are compared as the file system resolves them (symbolic links followed), case-sensitively:
on a case-insensitive file system ``A.png`` and ``a.png`` are not caught here.
"""

from __future__ import annotations

import os
import stat
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import input_error, no_such_file
from ..i18n import N_
from ..i18n import tr as _
from ..imaging.images import SAMPLE_PREFIX

NAME_FIELDS = ("stem", "ext", "kernel", "parent", "index")
"""The fields a name template may use."""
DEFAULT_NAME = "{stem}-{kernel}"
"""Outputs are named ``<input stem>-<kernel>.<format>`` unless told otherwise."""
MAX_NAME_BYTES = 255
"""The longest file name most file systems accept."""


def is_file_source(source: str) -> bool:
    """True for a path, False for ``-`` (stdin) and ``sample:NAME``."""
    return source != "-" and not source.startswith(SAMPLE_PREFIX)


def source_fields(source: str, index: int) -> dict[str, str | int]:
    """The template fields of one input (all but ``kernel``).

    ``stem``: file stem, sample name or ``stdin``; ``ext``: the suffix without its dot;
    ``parent``: the name of the folder holding the file; ``index``: position, counting from 1.
    """
    if not is_file_source(source):
        stem = source[len(SAMPLE_PREFIX) :] if source.startswith(SAMPLE_PREFIX) else "stdin"
        return {"stem": stem, "ext": "", "parent": "", "index": index}
    path = Path(source)
    parent = Path(os.path.abspath(source)).parent.name
    return {"stem": path.stem, "ext": path.suffix.lstrip("."), "parent": parent, "index": index}


def check_name_template(template: str) -> str:
    """Return ``template`` if it renders with :data:`NAME_FIELDS`; else an error naming the
    unknown field or the mistake."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise input_error(_("name template {template!r}: {detail}").format(template=template, detail=exc)) from None
    fields = [field for _, field, _, _ in parsed if field is not None]
    for field in fields:
        if field not in NAME_FIELDS:
            from ..suggest import did_you_mean

            shown = "{" + field + "}"
            raise input_error(
                _("name template {template!r}: unknown field {field}{suggestion}; use {fields}").format(
                    template=template,
                    field=shown,
                    suggestion=did_you_mean(field, NAME_FIELDS),
                    fields="{stem}, {ext}, {kernel}, {parent}" + _(" or ") + "{index}",
                )
            )
    if not fields:
        raise input_error(
            _("name template {template!r} has no field: every output would get the same name").format(template=template)
        )
    render_name(template, {"stem": "a", "ext": "png", "kernel": "k", "parent": "p", "index": 1})
    return template


def render_name(template: str, fields: dict[str, str | int]) -> str:
    """One file name (without suffix) from a checked template; refused when it is no file name."""
    try:
        name = template.format_map(fields)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise input_error(_("name template {template!r}: {detail}").format(template=template, detail=exc)) from None
    if not name or name in (".", "..") or "/" in name or "\0" in name or (os.altsep and os.altsep in name):
        raise input_error(
            _("name template {template!r} makes {name!r}, which is not a file name (parents mirrors folders)").format(
                template=template, name=name
            )
        )
    return name


def _file_name(template: str, fields: dict[str, str | int], fmt: str) -> str:
    """``<rendered name>.<fmt>``, refused when it (or the temporary file written beside it while
    the output is written atomically: ``.<name>.XXXXXXXX.<fmt>``) is too long to exist."""
    name = f"{render_name(template, fields)}.{fmt}"
    if len(name.encode("utf-8", "surrogateescape")) + len(fmt) + 11 > MAX_NAME_BYTES:
        raise input_error(
            _("{stem!r}: output name {name!r}… is too long for a file name").format(stem=fields["stem"], name=name[:40])
        )
    return name


def mirrored_folder(source: str) -> Path:
    """The folder an input keeps under the output folder with ``parents`` (``cp --parents``).

    ``..`` is resolved first; inputs inside the current folder keep their relative folder
    (``in/sub/a.png`` → ``in/sub``); those outside it (absolute, or climbing with ``..``) keep
    their absolute folder without its root (``/data/x/a.png`` → ``data/x``), so an output never
    lands outside the output folder. ``-`` and samples have none.
    """
    if not is_file_source(source):
        return Path()
    folder = Path(os.path.abspath(source)).parent
    try:
        return folder.relative_to(Path.cwd())
    except ValueError:
        return folder.relative_to(folder.anchor)


def distinct_kernel_names(names: Sequence[str], file_stems: Sequence[str | None]) -> list[str]:
    """Kernel names for outputs: a kernel read from a file whose ``# name:`` clashes with
    another kernel of the call takes its file's stem instead (``file_stems[i]`` is None for
    named kernels)."""
    counts = {name: list(names).count(name) for name in names}
    return [stem if counts[name] > 1 and stem else name for name, stem in zip(names, file_stems)]


@dataclass(frozen=True)
class Output:
    """One planned output file: which input (and its position), which kernel, where."""

    source: str
    index: int
    kernel: str
    path: Path


def plan_outputs(
    sources: Sequence[str],
    kernels: Sequence[str],
    out_dir: Path,
    fmt: str,
    *,
    template: str | None = None,
    parents: bool = False,
    indices: Sequence[int] | None = None,
) -> list[list[Output]]:
    """Name every output of a batch (per input, one per kernel); nothing is checked on disk.
    ``indices``: each source's ``{index}`` when they are part of a longer list (a shard)."""
    template = check_name_template(template) if template is not None else DEFAULT_NAME
    plan = []
    for index, source in zip(indices or range(1, len(sources) + 1), sources):
        fields = source_fields(source, index)
        folder = out_dir / mirrored_folder(source) if parents else out_dir
        plan.append(
            [
                Output(source, index, kernel, folder / _file_name(template, {**fields, "kernel": kernel}, fmt))
                for kernel in kernels
            ]
        )
    return plan


def check_sources(sources: Sequence[str]) -> None:
    """Refuse, before any work, inputs that are missing, folders, or given twice (the same file
    under two spellings too)."""
    missing = [s for s in sources if is_file_source(s) and not os.path.exists(s)]
    if missing:
        more = _(" (and {count} more missing inputs)").format(count=len(missing) - 1) if len(missing) > 1 else ""
        raise input_error(no_such_file(missing[0]) + more)
    seen: dict[str, str] = {}
    for source in sources:
        if is_file_source(source) and os.path.isdir(source):
            raise input_error(_("{p}: is a folder, expected a file").format(p=source))
        key = os.path.realpath(source) if is_file_source(source) else source
        if key in seen:
            if seen[key] == source:
                raise input_error(_("{source!r} is given twice: give each input once").format(source=source))
            raise input_error(
                _("{source!r} and {other!r} are the same file: give each input once").format(
                    source=source, other=seen[key]
                )
            )
        seen[key] = source


def check_plan(
    plan: Sequence[Sequence[Output]], out_dir: Path, *, parents: bool = False, in_place: bool = False
) -> None:
    """Refuse, before any work, outputs that would write the same file or replace an input, and
    mirrored folders blocked by a file."""
    inputs = _identities([outputs[0].source for outputs in plan if outputs])
    first: dict[str, Output] = {}
    clashes: list[tuple[Output, Output]] = []
    for output in (o for outputs in plan for o in outputs):
        key = os.path.realpath(output.path)
        if key in first:
            clashes.append((first[key], output))
            continue
        first[key] = output
        _check_not_an_input(output, inputs, in_place)
    if clashes:
        raise input_error(_collision_message(clashes, parents=parents))
    _check_folders({o.path.parent for o in first.values()}, out_dir)


def _identities(sources: Sequence[str]) -> dict[tuple[int, int], str]:
    """(device, inode) of each input file, so that an output reached by another spelling, a
    symbolic or a hard link is still recognised as that input."""
    found = {}
    for source in sources:
        if is_file_source(source):
            try:
                info = os.stat(source)
            except OSError:
                continue
            found[(info.st_dev, info.st_ino)] = source
    return found


def _check_not_an_input(output: Output, inputs: dict[tuple[int, int], str], in_place: bool) -> None:
    try:
        info = os.stat(output.path)
    except OSError:
        return  # not there yet: it cannot be an input
    if stat.S_ISDIR(info.st_mode):
        raise input_error(_("{path}: is a folder, expected a file name").format(path=output.path))
    owner = inputs.get((info.st_dev, info.st_ino))
    if owner is None or (owner == output.source and in_place):
        return
    if owner == output.source:
        raise input_error(
            _("{path}: output would overwrite its own input (in_place allows it)").format(path=output.path)
        )
    raise input_error(
        _(
            "{path}: the output of {source!r} would overwrite the input {owner!r}; "
            "write to another folder or change --name"
        ).format(path=output.path, source=output.source, owner=owner)
    )


def _collision_message(clashes: list[tuple[Output, Output]], *, parents: bool) -> str:
    """One line: the first two inputs (or kernels) that collide, how many more, and the way out."""
    a, b = clashes[0]
    more = _(" (and {count} more)").format(count=len(clashes) - 1) if len(clashes) > 1 else ""
    if a.source == b.source:
        what = _("{source!r} with kernels {kernel!r} and {kernel2!r}").format(
            source=a.source, kernel=a.kernel, kernel2=b.kernel
        )
        way = (
            N_("give each kernel once, or kernel files different '# name:' lines")
            if a.kernel == b.kernel
            else N_("add {kernel} to --name")
        )
    else:
        what = _("{source!r} and {source2!r}").format(source=a.source, source2=b.source)
        folders = os.path.dirname(os.path.abspath(a.source)) != os.path.dirname(os.path.abspath(b.source))
        if folders and not parents:
            way = N_("use --parents (mirror the input folders) or --name '{parent}-{stem}-{kernel}'")
        elif Path(a.source).suffix != Path(b.source).suffix:
            way = N_("use --name '{stem}-{ext}-{kernel}'")
        else:
            way = N_("use --name '{index}-{stem}-{kernel}'")
    message = _("outputs collide: {what} would both write '{path}'{more}; {way}")
    return message.format(what=what, path=a.path, more=more, way=_(way))


def _check_folders(folders: set[Path], out_dir: Path) -> None:
    """Every existing folder between ``out_dir`` and an output must be a folder, not a file."""
    checked: set[Path] = set()
    for folder in sorted(folders):
        probe = folder
        while probe not in checked and probe != out_dir and probe != probe.parent:
            checked.add(probe)
            if probe.exists() and not probe.is_dir():
                raise input_error(
                    _("{path}: is a file, but the mirrored input folders need it to be a folder").format(path=probe)
                )
            probe = probe.parent


def with_suffix_name(path: Path, extra: str) -> Path:
    """``path`` with ``-extra`` before its suffix."""
    return path.with_name(f"{path.stem}-{extra}{path.suffix}")


def plan_single(output: str, results: list[Any], names: list[str]) -> list[tuple[str, list[str], Any]]:
    """The files for one input written to ``output`` (``-matrix``: a matrix on stdout): one, one
    volume of matrices, or one file per kernel named ``OUTPUT-<kernel>.ext``."""
    import numpy as np

    from ..imaging.images import is_raw_path

    if len(results) == 1:
        return [(output, names, results[0])]
    matrix = output == "-matrix" or is_raw_path(output)
    if matrix and all(r.ndim == 2 for r in results):
        return [(output, names, np.stack(results, axis=-1))]
    if output in ("-", "-matrix"):
        raise input_error(
            _(
                "several kernels on a colour image make several images: use out_dir or "
                "output=FILE (one file per kernel), or gray=True"
            )
        )
    base = Path(output)
    return [(str(with_suffix_name(base, n)), [n], r) for n, r in zip(names, results)]
