"""The ``filter`` job: read inputs, run them through one Conv2D layer, write the outputs.

This is the library side of ``convcli filter``: it takes plain values and returns one
:class:`FilterRecord` per output, writing files atomically. Results bound for stdout are
returned, not printed (the CLI renders them).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .color import to_gray
from .convolution import Convolver
from .errors import ConvcliError, input_error
from .images import (
    DEFAULT_MAX_PIXELS,
    MATRIX_SUFFIXES,
    RAW_SUFFIXES,
    image_format_for,
    is_raw_path,
    load_sample,
    read_input,
    write_array,
)
from .kernels import Kernel, load_kernel
from .outputs import check_output_dir, check_output_path

SAMPLE_PREFIX = "sample:"


@dataclass
class FilterRecord:
    """One output of a filter run: where it went, which kernel(s), its shape and value range.

    ``output`` is ``None`` when the result is meant for stdout (the CLI prints ``array``).
    """

    input: str
    output: str | None
    kernels: list[str]
    array: np.ndarray = field(repr=False)

    def as_json(self, with_values: bool = False) -> dict[str, object]:
        """The ``--json`` object: input, output, kernel(s), shape, min, max (and values)."""
        record: dict[str, object] = {
            "input": self.input,
            "output": self.output if self.output is not None else "-",
            "kernel": self.kernels[0] if len(self.kernels) == 1 else self.kernels,
            "shape": list(self.array.shape),
            "min": float(self.array.min()),
            "max": float(self.array.max()),
        }
        if with_values:
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


def read_source(source: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an input: a path, ``-`` (stdin image bytes) or ``sample:NAME`` (bundled image)."""
    if source.startswith(SAMPLE_PREFIX):
        return load_sample(source[len(SAMPLE_PREFIX) :])
    return read_input(source, max_pixels=max_pixels)


def _stem(source: str) -> str:
    if source.startswith(SAMPLE_PREFIX):
        return source[len(SAMPLE_PREFIX) :]
    if source == "-":
        return "stdin"
    return Path(source).stem


def _with_suffix_name(path: Path, extra: str) -> Path:
    return path.with_name(f"{path.stem}-{extra}{path.suffix}")


def _plan_single(output: str, results: list[np.ndarray], names: list[str]) -> list[tuple[str, list[str], np.ndarray]]:
    """Decide the files for one input written to ``-o OUTPUT``."""
    if len(results) == 1:
        return [(output, names, results[0])]
    suffix = Path(output).suffix.lower()
    matrix = output == "-matrix" or suffix in RAW_SUFFIXES
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
) -> FilterResult:
    """Filter every source with the kernels through one Keras Conv2D layer and write the results.

    ``output``: a file (its suffix picks the format), ``-`` for PNG on stdout, or ``None`` to
    return matrix results for stdout (matrix inputs only). ``out_dir``: one file per input and
    kernel, named ``<input>-<kernel>.<fmt>``. Many sources require ``out_dir``.
    """
    if not sources:
        raise input_error("no input given: name an image, a matrix file, '-' or use --sample")
    if output is not None and out_dir is not None:
        raise input_error("give either -o OUTPUT or --out-dir DIR, not both")
    if len(sources) > 1 and out_dir is None:
        raise input_error(f"{len(sources)} inputs need --out-dir DIR (one output per input)")
    if stride < 1:
        raise input_error(f"--stride must be at least 1, got {stride}")
    if max_pixels < 1:
        raise input_error(f"--max-pixels must be at least 1, got {max_pixels}")
    loaded = [k if isinstance(k, Kernel) else load_kernel(k) for k in kernels]
    conv = Convolver(loaded, stride=stride, padding=padding, activation=activation, bias=bias)
    names = [k.name for k in loaded]
    fmt = fmt.lower().lstrip(".")
    out_folder = check_output_dir(out_dir) if out_dir is not None else None
    if output is not None and output != "-":
        check_output_path(output, inputs=tuple(sources), in_place=in_place)
        if range_mode == "raw" and not is_raw_path(output):
            raise input_error("--range raw keeps values unmapped: write a .npy, .txt or .csv output")
        if not is_raw_path(output):
            image_format_for(output)
    if out_folder is not None and f".{fmt}" not in RAW_SUFFIXES:
        image_format_for(f"x.{fmt}")
        if range_mode == "raw":
            raise input_error("--range raw keeps values unmapped: use --format npy, txt or csv")
    if output == "-" and range_mode == "raw":
        raise input_error("--range raw cannot be written as PNG on stdout")
    records: list[FilterRecord] = []
    failures: list[FilterFailure] = []
    for source in sources:
        try:
            records.extend(
                _filter_one(
                    source, conv, names, output, out_folder, fmt, gray, range_mode, max_pixels, sources, in_place
                )
            )
        except ConvcliError as exc:
            if not keep_going:
                raise
            failures.append(FilterFailure(source, exc.message))
    return FilterResult(records, failures)


def _filter_one(
    source: str,
    conv: Convolver,
    names: list[str],
    output: str | None,
    out_folder: Path | None,
    fmt: str,
    gray: bool,
    range_mode: str,
    max_pixels: int,
    sources: Sequence[str],
    in_place: bool,
) -> list[FilterRecord]:
    image = read_source(source, max_pixels=max_pixels)
    if gray and image.ndim == 3:
        image = to_gray(image)
    results = [r.array for r in conv.apply(image, source)]
    if out_folder is not None:
        records = []
        for name, result in zip(names, results):
            target = out_folder / f"{_stem(source)}-{name}.{fmt}"
            check_output_path(target, inputs=tuple(sources), in_place=in_place)
            write_array(target, result, range_mode=range_mode, name=name)
            records.append(FilterRecord(source, str(target), [name], result))
        return records
    if output is None:
        is_matrix = source.lower().endswith(tuple(RAW_SUFFIXES))
        if not is_matrix:
            raise input_error(f"{source}: an image needs -o OUTPUT (or -o - for PNG on stdout) or --out-dir DIR")
        plan = _plan_single("-matrix", results, names)
        return [FilterRecord(source, None, n, a) for _, n, a in plan]
    plan = _plan_single(output, results, names)
    records = []
    for target, knames, array in plan:
        if target == "-":
            records.append(FilterRecord(source, "-", knames, array))
            continue
        suffix = Path(target).suffix.lower()
        if suffix not in MATRIX_SUFFIXES and suffix != ".npy" and array.ndim == 3 and array.shape[2] not in (1, 3, 4):
            raise input_error(f"{target}: {array.shape[2]} maps cannot be one image; write .npy/.txt or use --out-dir")
        write_array(target, array, range_mode=range_mode, name=knames[0] if len(knames) == 1 else None)
        records.append(FilterRecord(source, target, knames, array))
    return records
