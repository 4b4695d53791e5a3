"""The ``filter`` job: read inputs, run them through one Conv2D layer, write the outputs.

This is the library side of ``convcli filter``: it takes plain values and returns one
:class:`FilterRecord` per output, writing files atomically. Results bound for stdout are
returned, not printed (the CLI renders them).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .bands import Encoding, Prepared, filter_bands, pixels_for, prepare, write_whole
from .convolution import Convolver
from .encoding import output_depth
from .errors import ConvcliError, check_bounds, input_error
from .images import (
    DEFAULT_MAX_PIXELS,
    check_range,
    image_format_for,
    is_raw_path,
    read_picture,
    source_stem,
)
from .kernels import Kernel, load_kernel
from .outputs import check_output_dir, check_output_path


@dataclass
class FilterRecord:
    """One output of a filter run: where it went, which kernel(s), its shape and value range.

    ``output`` is ``None`` when the result is meant for stdout as a matrix and ``"-"`` for PNG
    on stdout; only then is ``array`` kept (batch runs keep no arrays, so memory stays flat).
    """

    input: str
    output: str | None
    kernels: list[str]
    shape: tuple[int, ...]
    min: float
    max: float
    array: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def of(cls, source: str, output: str | None, kernels: list[str], array: np.ndarray) -> FilterRecord:
        """A record for ``array``, keeping the array only when it is bound for stdout."""
        keep = array if output in (None, "-") else None
        return cls(source, output, kernels, tuple(array.shape), float(array.min()), float(array.max()), keep)

    def as_json(self, with_values: bool = False) -> dict[str, object]:
        """The ``--json`` object: input, output, kernel(s), shape, min, max (and values)."""
        record: dict[str, object] = {
            "input": self.input,
            "output": self.output if self.output is not None else "-",
            "kernel": self.kernels[0] if len(self.kernels) == 1 else self.kernels,
            "shape": list(self.shape),
            "min": self.min,
            "max": self.max,
        }
        if with_values and self.array is not None:
            record["values"] = self.array.tolist()
        return record


@dataclass
class FilterFailure:
    """An input that failed in a ``keep_going`` batch, and why."""

    input: str
    message: str


@dataclass
class FilterResult:
    """Everything a filter run produced: records, and failures when ``keep_going``."""

    records: list[FilterRecord]
    failures: list[FilterFailure]


def _with_suffix_name(path: Path, extra: str) -> Path:
    return path.with_name(f"{path.stem}-{extra}{path.suffix}")


def _plan_single(output: str, results: list[np.ndarray], names: list[str]) -> list[tuple[str, list[str], np.ndarray]]:
    """Decide the files for one input written to ``-o OUTPUT``."""
    if len(results) == 1:
        return [(output, names, results[0])]
    matrix = output == "-matrix" or is_raw_path(output)
    if matrix and all(r.ndim == 2 for r in results):
        return [(output, names, np.stack(results, axis=-1))]
    if output in ("-", "-matrix"):
        raise input_error(
            "several kernels on a colour image make several images: use --out-dir or "
            "-o FILE (one file per kernel), or --gray"
        )
    base = Path(output)
    return [(str(_with_suffix_name(base, n)), [n], r) for n, r in zip(names, results)]


def filter_images(
    sources: Sequence[str],
    kernels: Sequence[str | Kernel],
    *,
    output: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    fmt: str = "png",
    stride: int = 1,
    padding: str = "valid",
    activation: str = "linear",
    bias: float | None = None,
    gray: bool = False,
    range_mode: str = "clip",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    keep_going: bool = False,
    in_place: bool = False,
    workers: int | None = None,
    png_level: int = 1,
    border: str = "zero",
    depth: int | None = None,
    band_rows: int | None = None,
) -> FilterResult:
    """Filter every source with the kernels through one Keras Conv2D layer and write the results.

    ``output``: a file (its suffix picks the format), ``-`` for PNG on stdout, or ``None`` to
    return matrix results for stdout (matrix inputs only). ``out_dir``: one file per input and
    kernel, named ``<input>-<kernel>.<fmt>``. Many sources require ``out_dir``.

    Inputs stream through a bounded pipeline: ``workers`` threads decode and encode while the
    one Conv2D layer convolves, so memory does not grow with the number of files. PNG files are
    written with zlib level ``png_level`` (1: fast; pixels are the same at every level).

    ``border`` fills ``same`` padding (zero, reflect, edge, wrap); ``depth`` (8 or 16) fixes the
    bits of image outputs (default: 16 for 16-bit inputs written as PNG or TIFF). Large pictures
    go through the layer in bands of rows (``band_rows`` output rows each, by default sized to
    bound memory) with exactly the whole-image result; see :mod:`convcli.bands`.
    """
    if not sources:
        raise input_error("no input given: name an image, a matrix file, '-' or use --sample")
    if output is not None and out_dir is not None:
        raise input_error("give either -o OUTPUT or --out-dir DIR, not both")
    if len(sources) > 1 and out_dir is None:
        raise input_error(f"{len(sources)} inputs need --out-dir DIR (one output per input)")
    check_bounds("max_pixels", max_pixels, 1)
    if workers is not None:
        check_bounds("workers", workers, 1, 64)
    check_bounds("png_level", png_level, 0, 9)
    loaded = [k if isinstance(k, Kernel) else load_kernel(k) for k in kernels]
    conv = Convolver(loaded, stride=stride, padding=padding, activation=activation, bias=bias, border=border)
    fmt = fmt.lower().lstrip(".")
    out_folder = _check_outputs(sources, output, out_dir, fmt, range_mode, in_place, depth)
    names = [k.name for k in loaded]
    encoding = Encoding(range_mode, depth, png_level)
    plan = _Plan(conv, names, output, out_folder, fmt, gray, max_pixels, tuple(sources), in_place, encoding, band_rows)
    records, failures = _Pipeline(plan, keep_going, workers).run(list(sources))
    return FilterResult(records, failures)


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
        check_output_path(output, inputs=tuple(sources), in_place=in_place)
    target = output if output is not None else f"x.{fmt}" if out_folder is not None else None
    pixels = target is not None and not is_raw_path(target)  # None: matrices on stdout
    check_range(range_mode, pixels=pixels)
    if pixels:
        output_depth(str(target), "PNG" if target == "-" else image_format_for(target), None, depth)
    return out_folder


@dataclass
class _Plan:
    """What to do with each input (shared, read-only, by the pipeline's threads)."""

    conv: Convolver
    names: list[str]
    output: str | None
    out_folder: Path | None
    fmt: str
    gray: bool
    max_pixels: int
    sources: tuple[str, ...]
    in_place: bool
    encoding: Encoding
    band_rows: int | None = None

    def read(self, source: str) -> Prepared:
        """Decode one input (upright, alpha and depth kept), check that it fits the layer and plan
        its bands; a picture held by one band gets its whole input (gray if asked) now."""
        picture = read_picture(source, max_pixels=self.max_pixels)
        return prepare(picture, self.conv, gray=self.gray, band_rows=self.band_rows)

    def targets(self, source: str, results: list[np.ndarray]) -> list[tuple[str | None, list[str], np.ndarray]]:
        """(target path or None/"-" for stdout, kernel names, array) for each output of ``source``."""
        if self.out_folder is not None:
            out = []
            for name, result in zip(self.names, results):
                target = self.out_folder / f"{source_stem(source)}-{name}.{self.fmt}"
                check_output_path(target, inputs=self.sources, in_place=self.in_place)
                out.append((str(target), [name], result))
            return out
        if self.output is None:
            if not is_raw_path(source):
                raise input_error(f"{source}: an image needs -o OUTPUT (or -o - for PNG on stdout) or --out-dir DIR")
            return [(None, n, a) for _, n, a in _plan_single("-matrix", results, self.names)]
        out = []
        for target, knames, array in _plan_single(self.output, results, self.names):
            if target != "-" and not is_raw_path(target) and array.ndim == 3 and array.shape[2] not in (1, 3, 4):
                raise input_error(
                    f"{target}: {array.shape[2]} maps cannot be one image; write .npy/.txt or use --out-dir"
                )
            out.append((target, knames, array))
        return out

    def write(self, target: str, knames: list[str], array: np.ndarray, prepared: Prepared) -> None:
        """Write one output; a single kernel's name goes into a text matrix's header."""
        write_whole(target, knames, array, prepared, self.encoding)


class _Pipeline:
    """Decode ahead and encode behind in worker threads; convolve in order in the calling thread.

    At most ``2 × workers`` images are decoded ahead and ``2 × workers`` writes are pending,
    so memory stays bounded however many files there are.
    """

    def __init__(self, plan: _Plan, keep_going: bool, workers: int | None) -> None:
        self.plan = plan
        self.keep_going = keep_going
        workers = workers or min(4, os.cpu_count() or 1)
        self.window = 2 * workers  # also the most images of one shape convolved in one layer call
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="convcli-io")
        self.upcoming: Iterator[str] = iter(())
        self.reads: deque[tuple[str, Future[Prepared]]] = deque()
        self.writes: deque[tuple[str, Future[None]]] = deque()
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
        with self.pool:
            try:
                self._read_ahead()
                while self.reads:
                    group = self._take_group()
                    self._read_ahead()
                    if group:
                        self._convolve(group)
                self._finish_writes(0)
            except BaseException:
                for _, pending in list(self.reads) + list(self.writes):
                    pending.cancel()
                if warmup is not None:
                    warmup.join()  # the import silences stderr: let it finish before the error shows
                raise
        return self.records, self.failures

    def _fail(self, source: str, exc: ConvcliError) -> None:
        if not self.keep_going:
            raise exc
        self.failures.append(FilterFailure(source, exc.message))

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
                self._fail(source, exc)
                continue
            if group and image.shape != group[0][1].shape:
                self.reads.appendleft((source, future))
                break
            group.append((source, image))
        return group

    def _convolve(self, group: list[tuple[str, Prepared]]) -> None:
        """Run one group through the layer and queue the writes of its outputs (a large picture:
        band by band, written as its rows come)."""
        if group[0][1].whole is None:
            self._convolve_bands(*group[0])
            return
        sources = [source for source, _ in group]
        prepared = [p for _, p in group]
        try:
            outputs = self.plan.conv.apply_many([p.whole for p in prepared], sources)
        except ConvcliError as exc:
            for source in sources:
                self._fail(source, exc)
            return
        group.clear()
        for source, item, maps in zip(sources, prepared, outputs):
            item.whole = None  # free the input before the outputs are encoded
            results = item.unpremultiply(maps, 0, item.grid.height)
            try:
                targets = self.plan.targets(source, results)
            except ConvcliError as exc:
                self._fail(source, exc)
                continue
            for target, knames, array in targets:
                record = FilterRecord.of(source, target, knames, array)
                if target == "-":
                    alpha = item.alpha(0, item.grid.height)
                    record.array = pixels_for("-", array, alpha, item.picture.depth, self.plan.encoding)
                self.records.append(record)
                if target not in (None, "-"):
                    write = self.pool.submit(self.plan.write, target, knames, array, item)
                    self.writes.append((source, write))
            self._finish_writes(self.window)

    def _convolve_bands(self, source: str, prepared: Prepared) -> None:
        """Filter one large picture band by band; its outputs are written as the rows come."""
        try:
            outputs = filter_bands(prepared, self.plan.conv, self.plan.targets, self.plan.encoding)
        except ConvcliError as exc:
            self._fail(source, exc)
            return
        for out in outputs:
            self.records.append(FilterRecord(source, out.target, out.kernels, out.shape, out.min, out.max, out.array))

    def _finish_writes(self, limit: int) -> None:
        """Wait for the oldest writes until at most ``limit`` are pending."""
        while len(self.writes) > limit:
            source, future = self.writes.popleft()
            try:
                future.result()
            except ConvcliError as exc:
                self._fail(source, exc)
