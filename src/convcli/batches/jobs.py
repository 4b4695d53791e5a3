"""``gray`` and ``channels`` over many inputs: the same planning, records and accounting as
``filter``'s batches (:mod:`convcli.batches.planning`), one :func:`convcli.jobs.gray_file` or
:func:`convcli.jobs.channels_file` call per input.

Outputs go into an output folder, named by a template (:mod:`convcli.filtering.naming`) whose ``{kernel}``
is ``gray`` for ``gray`` and the plane for ``channels`` (``red``, ``red-Reds``…), so the default
names are those one-input calls give. Like the one-input path, an 8-bit picture made gray never
imports numpy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import input_error
from ..i18n import tr
from ..imaging.color import CHANNEL_CMAPS, CHANNEL_NAMES
from ..imaging.encoding import output_depth, output_format
from ..imaging.images import image_format_for, is_raw_path
from ..outputs import check_output_dir, make_folder, never_replacing
from .events import Accounting, Skipped, Written
from .inputs import Shard, select
from .planning import check_destination, choose_inputs, plan_folder

CHANNEL_OUTPUTS = tuple(n for name, cmap in zip(CHANNEL_NAMES, CHANNEL_CMAPS) for n in (name, f"{name}-{cmap}"))
"""The ``{kernel}`` of each ``channels`` output, in the order they are written."""


@dataclass
class BatchResult:
    """What a ``gray`` or ``channels`` batch did: the records of inputs written, the failures
    (``keep_going``) and the inputs skipped (their outputs exist)."""

    written: list[Written]
    failures: list[Any]
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class FolderJob:
    """Where a batch writes and how: the output folder, its format, names and rules."""

    out_dir: str | os.PathLike[str] | None
    fmt: str | None = None
    template: str | None = None
    parents: bool = False
    shard: Shard | None = None
    existing: str = "overwrite"
    keep_going: bool = False
    workers: int | None = None


def gray_files(
    sources: Sequence[str],
    where: FolderJob,
    *,
    method: str = "luma",
    max_pixels: int | None = None,
    depth: int | None = None,
    quality: int | None = None,
    frame: int | None = None,
    report: Callable[[Any], None] | None = None,
) -> BatchResult:
    """Make every source gray (:func:`convcli.jobs.gray_file`, whose ``quality`` and ``frame``
    these are) into ``where.out_dir``, one ``<stem>-gray.<fmt>`` each (png unless ``where.fmt``);
    records as ``gray --json`` prints them."""
    from ..imaging.color import check_gray_method
    from ..jobs import gray_file

    check_gray_method(method)

    def check(folder: str) -> str:
        fmt = output_format(where.fmt)
        probe = os.path.join(folder, f"x.{fmt}")
        if not is_raw_path(probe):
            where_to = f"{folder} (format {fmt})"  # the folder, not the probe's made-up file name
            output_depth(where_to, image_format_for(probe), None, depth)  # a wrong depth: refused before any work
        return fmt

    def job(source: str, paths: list[str]) -> Written:
        result = gray_file(
            source, paths[0], method=method, max_pixels=max_pixels, depth=depth, quality=quality, frame=frame
        )
        return Written(source, paths, {"method": method, "shape": list(result.shape)})

    return _run_folder(sources, where, ("gray",), check, job, report)


def channels_files(
    sources: Sequence[str],
    where: FolderJob,
    *,
    max_pixels: int | None = None,
    depth: int | None = None,
    frame: int | None = None,
    report: Callable[[Any], None] | None = None,
) -> BatchResult:
    """Write every source's R, G and B planes (:func:`convcli.jobs.channels_file`) into
    ``where.out_dir``: six PNGs each, named ``<stem>-red.png``, ``<stem>-red-Reds.png``…"""
    from ..jobs import channels_file

    def check(folder: str) -> str:
        output_depth(os.path.join(folder, "plane.png"), "PNG", None, depth)  # a wrong depth: refused up front
        return output_format(where.fmt, "x.png")

    def job(source: str, paths: list[str]) -> Written:
        written = channels_file(
            source, str(where.out_dir), max_pixels=max_pixels, depth=depth, targets=paths, frame=frame
        )
        return Written(source, written, {})

    return _run_folder(sources, where, CHANNEL_OUTPUTS, check, job, report)


def _run_folder(
    sources: Sequence[str],
    where: FolderJob,
    names: Sequence[str],
    check: Callable[[str], str],
    job: Callable[[str, list[str]], Written],
    report: Callable[[Any], None] | None,
) -> BatchResult:
    """Plan the batch as ``filter`` does (this shard's inputs, names over the whole list,
    collisions, writable folders, existing outputs), then run ``job`` on each input left."""
    from .runner import run_jobs

    account = Accounting([sources[i] for i in select(sources, where.shard)], report)
    with account.stopping():
        check_destination(sources, None, where.out_dir, where.template, where.parents)
        if where.out_dir is None:
            raise input_error(tr("give out_dir=DIR: the folder for the outputs"))
        batch = choose_inputs(sources, where.shard, where.keep_going)
        folder = check_output_dir(where.out_dir)
        fmt = check(str(folder))
        plan_folder(
            batch, sources, names, folder, fmt, template=where.template, parents=where.parents, existing=where.existing
        )
        planned = batch.planned or {}

        def one(source: str) -> Written:
            paths = [str(o.path) for o in planned[source]]
            make_folder(paths[0])  # a mirrored input folder (parents)
            return job(source, paths)

        missing = batch.set_aside(_failure, account)
        with never_replacing(batch.fresh):
            written, failures = run_jobs(batch.todo, one, account, keep_going=where.keep_going, workers=where.workers)
    return BatchResult(written, missing + failures, batch.skipped)


def _failure(source: str, message: str) -> Any:
    from ..filtering.records import FilterFailure

    return FilterFailure(source, message)
