"""The ``filter`` job: read inputs, run them through one Conv2D layer, write the outputs.

This is the library side of ``convcli filter``: it takes plain values and returns one
:class:`FilterRecord` per output, writing files atomically. Each record (and, with
``keep_going``, each :class:`FilterFailure`) is also handed to a ``report`` callback the moment
its file is in place, so a caller can stream them. Results bound for stdout are returned, not
printed (the CLI renders them).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..batches.events import Accounting
from ..batches.inputs import select
from ..batches.planning import check_destination, check_writable, choose_inputs, plan_destination
from ..errors import ConvcliError, check_bounds, input_error
from ..i18n import N_, tr
from ..imaging.encoding import output_depth, output_format
from ..imaging.images import (
    check_range,
    image_format_for,
    is_raw_path,
    read_picture,
)
from ..outputs import check_output_dir, check_output_path, make_folder, never_replacing
from .bands import Encoding, Prepared, filter_bands, prepare, write_whole
from .config import FilterConfig
from .convolution import Convolver
from .kernels import Kernel, load_kernel, named_kernel_files
from .naming import Output, check_plan, distinct_kernel_names, is_file_source, plan_single
from .records import FilterFailure, FilterRecord, FilterResult, InterruptGuard, Report


def filter_images(
    sources: Sequence[str],
    kernels: Sequence[str | Kernel],
    config: FilterConfig | None = None,
    *,
    report: Report | None = None,
    **options: Any,
) -> FilterResult:
    """Filter every source with the kernels through one Keras Conv2D layer and write the results,
    as ``config`` (a :class:`~convcli.filtering.config.FilterConfig`, updated by ``options``:
    ``filter_images(paths, ["edges"], out_dir="out")``) says.

    Many sources require ``out_dir``. Usage mistakes (missing inputs, colliding outputs, a bad
    template) are refused before any work and before Keras is imported. Inputs stream through a
    bounded pipeline: ``workers`` threads decode and encode while the one Conv2D layer convolves,
    so memory does not grow with the number of files; PNG files are written with zlib level
    ``png_level`` (1: fast; pixels are the same at every level). ``report`` receives each record
    once its file is in place (and each failure); when the run stops (an error without
    ``keep_going``, or Ctrl-C) it has received exactly the files written; inputs the run never
    reached are reported as not started. ``border``, ``depth`` and ``band_rows``: see
    :mod:`convcli.filtering.bands`; ``frame``: ``read_picture``'s.
    """
    c = (config or FilterConfig()).updated(options)
    account = Accounting([sources[i] for i in select(sources, c.shard)], report)
    with account.stopping():  # however the run ends, every input of this shard is reported once
        _check_call(sources, c.output, c.out_dir, c.name_template, c.parents)
        check_bounds("max_pixels", c.max_pixels, 1)
        check_bounds("workers", c.workers or 1, 1, 64)
        check_bounds("png_level", c.png_level, 0, 9)
        batch = choose_inputs(sources, c.shard, c.keep_going)
        loaded = _load_kernels(kernels)
        conv = Convolver(
            loaded, stride=c.stride, padding=c.padding, activation=c.activation, bias=c.bias, border=c.border
        )
        fmt = output_format(c.fmt, c.output)
        out_folder = _check_outputs(batch.chosen, c.output, c.out_dir, fmt, c.range_mode, c.in_place, c.depth)
        names = [k.name for k in loaded]
        plan_destination(
            batch, sources, names, out_folder, c.output, fmt, c.name_template, c.parents, c.in_place, c.existing
        )
        encoding = Encoding(c.range_mode, c.depth, c.png_level, c.quality)
        plan = _Plan(
            conv,
            names,
            c.output,
            batch.planned,
            c.gray,
            c.max_pixels,
            tuple(batch.chosen),
            c.in_place,
            encoding,
            c.band_rows,
            c.frame,
        )
        missing = batch.set_aside(FilterFailure, account)
        with never_replacing(batch.fresh):
            records, failures = _Pipeline(plan, c.keep_going, c.workers, account).run(batch.todo)
    return FilterResult(records, missing + failures, batch.skipped)


def _check_call(
    sources: Sequence[str],
    output: str | None,
    out_dir: str | os.PathLike[str] | None,
    name_template: str | None,
    parents: bool,
) -> None:
    """Refuse combinations of arguments that cannot work, naming what to give instead."""
    check_destination(
        sources, output, out_dir, name_template, parents, N_("an image, a matrix file, '-' or use --sample")
    )
    if output is None and out_dir is None:
        for source in sources:
            if not (is_file_source(source) and is_raw_path(source)):
                message = tr("{source}: an image needs output=FILE (a file, or - for PNG on stdout) or out_dir=DIR")
                raise input_error(message.format(source=source))


def _load_kernels(kernels: Sequence[str | Kernel]) -> list[Kernel]:
    """Load the kernels; one read from a file whose name clashes with another kernel's takes
    the file's stem as its name (so their outputs do not collide)."""
    loaded = [k if isinstance(k, Kernel) else load_kernel(k) for k in kernels]
    named = named_kernel_files()
    stems = [None if isinstance(k, Kernel) or str(k) in named else Path(str(k)).stem for k in kernels]
    names = distinct_kernel_names([k.name for k in loaded], stems)
    return [k if k.name == n else replace(k, name=n) for k, n in zip(loaded, names)]


def _check_outputs(
    sources: Sequence[str],
    output: str | None,
    out_dir: str | os.PathLike[str] | None,
    fmt: str,
    range_mode: str,
    in_place: bool,
    depth: int | None = None,
) -> Path | None:
    """Check where the results go before any work: the folder or file, its format, and that the
    format can hold ``range_mode``'s values. Returns the output folder, if any."""
    out_folder = check_output_dir(out_dir) if out_dir is not None else None
    if output is not None and output != "-":
        check_writable({check_output_path(output, inputs=tuple(sources), in_place=in_place).parent})
    target = output if output is not None else f"x.{fmt}" if out_folder is not None else None
    pixels = target is not None and not is_raw_path(target)  # None: matrices on stdout
    where = output if output not in (None, "-") else f"{out_dir} (format {fmt})" if out_dir else "stdout"
    check_range(range_mode, pixels=pixels, target=str(where))
    if pixels:
        output_depth(str(where), "PNG" if target == "-" else image_format_for(target), None, depth)
    return out_folder


@dataclass
class _Plan:
    """What to do with each input (shared, read-only, by the pipeline's threads)."""

    conv: Convolver
    names: list[str]
    output: str | None
    planned: dict[str, list[Output]] | None  # with an output folder: each input's outputs, named
    gray: bool
    max_pixels: int
    sources: tuple[str, ...]
    in_place: bool
    encoding: Encoding
    band_rows: int | None = None
    frame: int | None = None

    def read(self, source: str) -> Prepared:
        """Decode one input (its ``frame``; upright, alpha and depth kept) and :func:`prepare` it."""
        picture = read_picture(source, max_pixels=self.max_pixels, frame=self.frame)
        return prepare(picture, self.conv, gray=self.gray, band_rows=self.band_rows)

    def targets(self, source: str, results: list[np.ndarray]) -> list[tuple[str | None, list[str], np.ndarray]]:
        """(target path or None/"-" for stdout, kernel names, array) for each output of ``source``."""
        if self.planned is not None:
            planned = [(str(o.path), [o.kernel], result) for o, result in zip(self.planned[source], results)]
            for target, _, _ in planned:
                make_folder(target)  # a mirrored input folder (``parents``)
            return planned
        if self.output is None:
            return [(None, n, a) for _, n, a in plan_single("-matrix", results, self.names)]
        out = []
        for target, knames, array in plan_single(self.output, results, self.names):
            if target != "-" and not is_raw_path(target) and array.ndim == 3 and array.shape[2] not in (1, 3, 4):
                raise input_error(
                    f"{target}: {array.shape[2]} maps cannot be one image; write .npy/.txt or use out_dir"
                )
            out.append((target, knames, array))
        if len(out) > 1:  # one file per kernel beside OUTPUT: these names were not checked yet
            folder = Path(self.output).parent
            check_plan([[Output(source, 1, k[0], Path(str(t))) for t, k, _ in out]], folder, in_place=self.in_place)
        return out

    def write(self, target: str, knames: list[str], array: np.ndarray, prepared: Prepared) -> None:
        """Write one output; a single kernel's name goes into a text matrix's header."""
        write_whole(target, knames, array, prepared, self.encoding)


class _Pipeline:
    """Decode ahead and encode behind in worker threads; convolve in order in the calling thread.

    At most ``2 × workers`` images are decoded ahead and ``2 × workers`` writes are pending,
    so memory stays bounded however many files there are. A record is reported only once its
    write has completed; when the run stops early, the writes already under way are waited for
    and reported, so the reports name exactly the files written.
    """

    def __init__(self, plan: _Plan, keep_going: bool, workers: int | None, report: Report | None = None) -> None:
        self.plan = plan
        self.keep_going = keep_going
        self.report = report
        self.guard = InterruptGuard()
        workers = workers or min(4, os.cpu_count() or 1)
        self.window = 2 * workers  # also the most images of one shape convolved in one layer call
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="convcli-io")
        self.upcoming: Iterator[str] = iter(())
        self.reads: deque[tuple[str, Future[Prepared]]] = deque()
        self.writes: deque[tuple[FilterRecord, Future[None]]] = deque()
        self.records: list[FilterRecord] = []
        self.failures: list[FilterFailure] = []

    def run(self, sources: list[str]) -> tuple[list[FilterRecord], list[FilterFailure]]:
        """Filter every source; a failure stops the run unless ``keep_going``."""
        self.upcoming = iter(sources)
        warmup: threading.Thread | None = None
        if len(sources) > 1:
            # Import Keras and build the layer while the first images decode.
            warmup = threading.Thread(target=self.plan.conv.build_quietly, daemon=True)
            warmup.start()
        with self.pool, self.guard:
            try:
                self._read_ahead()
                if warmup is not None:  # the import silences stderr: report nothing until it is done
                    warmup.join()
                while self.reads:
                    group = self._take_group()
                    self._read_ahead()
                    if group:
                        self._convolve(group)
                self._finish_writes(0)
            except BaseException as exc:
                self._stop(interrupted=not isinstance(exc, ConvcliError))
                if warmup is not None:
                    warmup.join()  # the import silences stderr: let it finish before the error shows
                raise
        return self.records, self.failures

    def _stop(self, *, interrupted: bool) -> None:
        """Cancel the reads (and, when interrupted, the writes not yet begun); wait for the other
        writes and report them, Ctrl-C held meanwhile, so that the reports match the files."""
        for _, pending in self.reads:
            pending.cancel()
        if interrupted:
            for _, pending in self.writes:
                pending.cancel()
        with self.guard.held():
            while self.writes:
                record, future = self.writes.popleft()
                try:
                    future.result()
                except CancelledError:
                    continue
                except ConvcliError as exc:
                    self._emit(FilterFailure(record.input, exc.message))
                    continue
                except Exception:
                    continue
                self._emit(record)

    def _emit(self, event: FilterRecord | FilterFailure) -> None:
        """Keep a record or failure and report it (Ctrl-C waits until the report is made)."""
        with self.guard.held():
            if isinstance(event, FilterRecord):
                self.records.append(event)
            else:
                self.failures.append(event)
            if self.report is not None:
                self.report(event)

    def _fail(self, source: str, exc: ConvcliError) -> None:
        self._emit(FilterFailure(source, exc.message))
        if not self.keep_going:
            raise exc

    def _read_ahead(self) -> None:
        """Start decoding the next sources until ``window`` are in flight."""
        while len(self.reads) < self.window:
            source = next(self.upcoming, None)
            if source is None:
                return
            self.reads.append((source, self.pool.submit(self.plan.read, source)))

    def _take_group(self) -> list[tuple[str, Prepared]]:
        """The first decoded image (waited for) and those after it that are ready and share its
        shape: they go through the layer in one call."""
        group: list[tuple[str, Prepared]] = []
        while self.reads and len(group) < self.window:
            source, future = self.reads[0]
            if group and not future.done():
                break
            self.reads.popleft()
            try:
                image = future.result()
            except ConvcliError as exc:
                if group and not self.keep_going:  # the run stops here: finish the inputs before it
                    self.reads.appendleft((source, future))
                    break
                self._fail(source, exc)
                continue
            if group and image.shape != group[0][1].shape:
                self.reads.appendleft((source, future))
                break
            group.append((source, image))
        return group

    def _convolve(self, group: list[tuple[str, Prepared]]) -> None:
        """Run one group through the layer and queue the writes of its outputs (a large picture:
        band by band, its files written as the rows come)."""
        if group[0][1].whole is None:
            self._convolve_bands(*group[0])
            return
        sources = [source for source, _ in group]
        prepared = [item for _, item in group]
        try:
            outputs = self.plan.conv.apply_many([item.whole for item in prepared], sources, prepared[0].den)
        except ConvcliError as exc:
            for source in sources:
                self._fail(source, exc)
            return
        group.clear()
        for source, item, maps in zip(sources, prepared, outputs):
            item.whole = None  # free the input before the outputs are encoded
            try:
                targets = self.plan.targets(source, item.unpremultiply(maps, 0, item.grid.height))
            except ConvcliError as exc:
                self._fail(source, exc)
                continue
            for target, knames, array in targets:
                record = FilterRecord.of(source, target, knames, array)
                if target in (None, "-"):
                    if target == "-":  # PNG pixels with the input's alpha and depth
                        record.array = item.stdout_pixels(array, self.plan.encoding)
                    self._emit(record)  # bound for stdout: the caller writes it
                    continue
                with self.guard.held():  # a write started is a write reported
                    self.writes.append((record, self.pool.submit(self.plan.write, target, knames, array, item)))
            self._finish_writes(self.window)

    def _convolve_bands(self, source: str, prepared: Prepared) -> None:
        """Filter one large picture band by band; its records are reported once its files are in place."""
        self._finish_writes(0)  # earlier files are reported first, in order
        try:
            outputs = filter_bands(prepared, self.plan.conv, self.plan.targets, self.plan.encoding)
        except ConvcliError as exc:
            self._fail(source, exc)
            return
        for out in outputs:
            self._emit(FilterRecord(source, out.target, out.kernels, out.shape, out.min, out.max, out.array))

    def _finish_writes(self, limit: int) -> None:
        """Report the writes in order as they complete: wait for the oldest until at most
        ``limit`` are pending, then take those already done."""
        while self.writes and (len(self.writes) > limit or self.writes[0][1].done()):
            record, future = self.writes[0]
            try:
                future.result()  # a Ctrl-C here leaves the write queued: _stop reports it
            except ConvcliError as exc:
                self.writes.popleft()
                self._fail(record.input, exc)
                continue
            with self.guard.held():
                self.writes.popleft()
                self._emit(record)
