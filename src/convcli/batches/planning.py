"""Everything a batch settles before any work: this shard's inputs, the missing ones (failures
under ``keep_going``), every output named and checked over the whole list, the output folders
writable, and what to do with outputs that exist already.

Outputs are named and checked for collisions over the whole list, not only this shard's part,
so that N shards refuse exactly what one run would refuse and write exactly what it would write.
Existing outputs are overwritten by default (as ``cp`` and ImageMagick do); ``refuse`` stops
before any work naming them (``--no-clobber``), ``skip`` passes over each input whose outputs
all exist (``--skip-existing``), so that a killed shard is rerun cheaply.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import input_error, no_such_file, work_error
from ..filtering.naming import Output, check_plan, check_sources, is_file_source, plan_outputs
from ..i18n import N_, ngettext, tr
from .events import Skipped
from .inputs import Shard, select

EXISTING = ("overwrite", "refuse", "skip")
"""What to do with outputs that exist: replace them, refuse the run, or skip their inputs."""


@dataclass
class BatchPlan:
    """This call's share of a batch: its inputs in list order, those missing (with why), those
    skipped, those to work on, and each input's planned outputs (with an output folder)."""

    chosen: list[str]
    shard: Shard | None = None
    missing: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)
    planned: dict[str, list[Output]] | None = None
    fresh: list[str] = field(default_factory=list)
    """Outputs no file held when planned, which ``--no-clobber``/``--skip-existing`` must not
    replace should another run write one meanwhile (:func:`convcli.outputs.never_replacing`)."""

    def set_aside(self, failure: Callable[[str, str], Any], report: Callable[[Any], None]) -> list[Any]:
        """Report the missing inputs (as ``failure(input, message)``) and the skipped ones, before
        the work; returns the failures."""
        failures = [failure(source, message) for source, message in self.missing]
        for event in [*failures, *self.skipped]:
            report(event)
        return failures


def check_destination(
    sources: Sequence[str],
    output: str | None,
    out_dir: str | os.PathLike[str] | None,
    template: str | None,
    parents: bool,
    what: str = N_("an image, '-' or use --sample"),
) -> None:
    """Refuse, before any work, a batch without a place for its outputs, naming what to give."""
    if not sources:
        raise input_error(tr("no input given: name {what}").format(what=tr(what)))
    if output is not None and out_dir is not None:
        raise input_error(tr("give either output=FILE or out_dir=DIR, not both"))
    if len(sources) > 1 and out_dir is None:
        raise input_error(tr("{count} inputs need out_dir=DIR (one output per input)").format(count=len(sources)))
    if out_dir is None and (template is not None or parents):
        raise input_error(tr("a name template and parents name files in an output folder: give out_dir=DIR"))


def choose_inputs(sources: Sequence[str], shard: Shard | None, keep_going: bool) -> BatchPlan:
    """This shard's inputs; with ``keep_going`` missing inputs and folders are set aside as
    failures, otherwise they are refused before any work. Inputs given twice are always refused."""
    chosen = [sources[i] for i in select(sources, shard)]
    if not keep_going:
        check_sources(chosen)
        return BatchPlan(chosen, shard, todo=list(chosen))
    missing = []
    for source in chosen:
        if is_file_source(source) and not os.path.exists(source):
            missing.append((source, no_such_file(source)))
        elif is_file_source(source) and os.path.isdir(source):
            missing.append((source, tr("{p}: is a folder, expected a file").format(p=source)))
    absent = {source for source, _ in missing}
    todo = [source for source in chosen if source not in absent]
    check_sources(todo)
    return BatchPlan(chosen, shard, missing, todo=todo)


def plan_folder(
    batch: BatchPlan,
    sources: Sequence[str],
    names: Sequence[str],
    out_dir: Path,
    fmt: str,
    *,
    template: str | None = None,
    parents: bool = False,
    in_place: bool = False,
    existing: str = "overwrite",
    default_template: str | None = None,
) -> BatchPlan:
    """Name the outputs of the whole list (``{index}`` is the position in it), refuse collisions,
    check that this shard's folders are writable, then apply ``existing`` to its inputs."""
    if existing not in EXISTING:
        raise input_error(
            tr("existing {value!r}: choose one of {choices}").format(value=existing, choices=", ".join(EXISTING))
        )
    template = template or default_template
    if len(batch.chosen) == len(sources) or parents:
        plan = plan_outputs(sources, names, out_dir, fmt, template=template, parents=parents)
        check_plan(plan, out_dir, parents=parents, in_place=in_place)
        wanted = set(batch.chosen)
        plan = [outputs for outputs in plan if outputs and outputs[0].source in wanted]
    else:
        plan = _plan_shard(batch, sources, names, out_dir, fmt, template, in_place)
    batch.planned = {outputs[0].source: outputs for outputs in plan}
    check_writable({o.path.parent for outputs in batch.planned.values() for o in outputs} | {out_dir})
    _apply_existing(batch, existing)
    return batch


def plan_destination(
    batch: BatchPlan,
    sources: Sequence[str],
    names: Sequence[str],
    out_dir: Path | None,
    output: str | None,
    fmt: str,
    template: str | None,
    parents: bool,
    in_place: bool,
    existing: str,
) -> None:
    """Plan the outputs in ``out_dir`` (:func:`plan_folder`) or apply ``existing`` to ``-o OUTPUT``."""
    if out_dir is not None:
        plan_folder(
            batch,
            sources,
            names,
            out_dir,
            fmt,
            template=template,
            parents=parents,
            in_place=in_place,
            existing=existing,
        )
    elif output not in (None, "-"):
        single_existing(batch, str(output), names, existing)


def _plan_shard(
    batch: BatchPlan,
    sources: Sequence[str],
    names: Sequence[str],
    out_dir: Path,
    fmt: str,
    template: str | None,
    in_place: bool,
) -> list[list[Output]]:
    """A shard's outputs, named and checked the exact way, and the whole list's names checked
    for clashes the fast way (:mod:`convcli.batches.names`); a clash, or a fast name that
    differs from an exact one, checks the whole list the exact way (its error is one run's)."""
    from .names import has_clash, quick_names

    positions = select(sources, batch.shard)
    plan = plan_outputs(batch.chosen, names, out_dir, fmt, template=template, indices=[i + 1 for i in positions])
    check_plan(plan, out_dir, in_place=in_place)
    quick = quick_names(sources, names, fmt, template)
    same = all([o.path.name for o in outputs] == quick[i] for i, outputs in zip(positions, plan))
    if not same or has_clash(quick):
        check_plan(plan_outputs(sources, names, out_dir, fmt, template=template), out_dir, in_place=in_place)
    return plan


def check_writable(folders: set[Path]) -> None:
    """Refuse, before any work, an output folder (or, when it is still to be made, the folder
    it would be made in) that cannot take new files: read-only, immutable or not ours."""
    for folder in sorted(folders):
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if probe.is_dir() and not os.access(probe, os.W_OK | os.X_OK):
            raise work_error(
                tr("{path}: cannot write into this folder (read-only or permission denied); nothing done").format(
                    path=probe
                )
            )


def single_existing(batch: BatchPlan, output: str, names: Sequence[str], existing: str) -> None:
    """``existing`` for one input written to ``-o OUTPUT``: refuse or skip when that file exists."""
    if existing == "overwrite" or not batch.todo:
        return
    if not os.path.lexists(output):
        batch.fresh = [output]
        return
    if existing == "refuse":
        raise input_error(tr("no_clobber: {output!r} exists already; nothing was written").format(output=output))
    batch.skipped = [Skipped(source, [output], list(names)) for source in batch.todo]
    batch.todo = []


def _apply_existing(batch: BatchPlan, existing: str) -> None:
    """Refuse existing outputs (``refuse``), or set aside the inputs whose outputs all exist (``skip``)."""
    if existing == "overwrite" or batch.planned is None:
        return
    present = {s: [o for o in batch.planned[s] if os.path.lexists(o.path)] for s in batch.todo}
    if existing == "refuse":
        found = [str(o.path) for s in batch.todo for o in present[s]]
        if found:
            shown = ", ".join(repr(p) for p in found[:3])
            more = tr(" (and {count} more)").format(count=len(found) - 3) if len(found) > 3 else ""
            message = ngettext(
                "no_clobber: {count} output exists already: {shown}{more}; "
                "nothing was written: remove it, write elsewhere, or use --skip-existing",
                "no_clobber: {count} outputs exist already: {shown}{more}; "
                "nothing was written: remove them, write elsewhere, or use --skip-existing",
                len(found),
            )
            raise input_error(message.format(count=len(found), shown=shown, more=more))
        batch.fresh = [str(o.path) for s in batch.todo for o in batch.planned[s]]
        return
    done = {s for s in batch.todo if len(present[s]) == len(batch.planned[s])}
    batch.skipped = [
        Skipped(s, [str(o.path) for o in batch.planned[s]], [o.kernel for o in batch.planned[s]])
        for s in batch.todo
        if s in done
    ]
    batch.todo = [s for s in batch.todo if s not in done]
    batch.fresh = [str(o.path) for s in batch.todo for o in batch.planned[s] if o not in present[s]]
