"""Convolution kernels: the named-kernel registry (files in ``kernels/``) and kernel files.

A kernel is a K×K (or KH×KW) matrix applied to each channel, or a K×K×C volume applied across
C channels, plus an optional bias. Named kernels ship as text files in the top-level
``kernels/`` folder (inside the wheel as ``convcli/kernels``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import input_error
from ..i18n import tr
from ..i18n import tr as _
from ..imaging.images import decode_text, read_bytes
from ..imaging.textformat import format_matrix, parse_matrix_text

MAX_KERNEL_SIZE = 64
"""Kernels larger than 64×64 are refused (they are almost always a mistaken input)."""
MAX_KERNEL_DEPTH = 4096
"""A K×K×C kernel spans at most this many channels."""
MAX_KERNEL_BYTES = 1024 * 1024
"""Kernel files larger than 1 MiB are refused before parsing."""
KERNEL_SUFFIX = ".txt"


@dataclass(frozen=True)
class Kernel:
    """One convolution filter: weights (KH, KW) or (KH, KW, C), its bias and description."""

    name: str
    weights: np.ndarray
    bias: float | None = None
    description: str = ""

    @property
    def size(self) -> str:
        """Human-readable size such as ``3×3`` or ``3×3×3``."""
        return "×".join(str(d) for d in self.weights.shape)

    def to_text(self) -> str:
        """The kernel in the kernel file format."""
        return format_matrix(self.weights, name=self.name, description=self.description or None, bias=self.bias)


def kernels_dir() -> Path:
    """The folder of named kernel files: inside the installed package, else the source tree."""
    package = Path(__file__).resolve().parents[1]  # src/convcli (or site-packages/convcli)
    packaged = package / "kernels"
    if packaged.is_dir():
        return packaged
    return package.parents[1] / "kernels"


@functools.cache
def named_kernel_files() -> dict[str, Path]:
    """Map each named kernel to its file, sorted by name."""
    folder = kernels_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob(f"*{KERNEL_SUFFIX}"), key=lambda p: p.stem)}


def parse_kernel(text: str, source: str = "<kernel>", name: str | None = None) -> Kernel:
    """Parse kernel file text into a :class:`Kernel`, validating shape and values."""
    parsed = parse_matrix_text(text, source)
    weights = parsed.array
    if max(weights.shape[:2]) > MAX_KERNEL_SIZE:
        raise input_error(
            tr("{source}: kernel is {items}, over the {MAX_KERNEL_SIZE}×{MAX_KERNEL_SIZE} limit").format(
                source=source, items="×".join(map(str, weights.shape)), MAX_KERNEL_SIZE=MAX_KERNEL_SIZE
            )
        )
    if weights.ndim == 3 and weights.shape[2] > MAX_KERNEL_DEPTH:
        raise input_error(
            tr("{source}: kernel has {value} slices, over the {MAX_KERNEL_DEPTH} limit").format(
                source=source, value=weights.shape[2], MAX_KERNEL_DEPTH=MAX_KERNEL_DEPTH
            )
        )
    return Kernel(
        name=parsed.name or name or Path(source).stem,
        weights=weights,
        bias=parsed.bias,
        description=parsed.description or "",
    )


def load_kernel(name_or_path: str | os.PathLike[str]) -> Kernel:
    """Load a named kernel (``edges``) or a kernel file (``my.txt``).

    A name that is neither suggests the closest named kernel.
    """
    text = str(name_or_path)
    files = named_kernel_files()
    if text in files:
        path = files[text]
        return parse_kernel(decode_text(path.read_bytes(), str(path)), str(path), name=text)
    path = Path(text)
    if path.exists() or os.sep in text or path.suffix:
        data = read_bytes(path, limit=MAX_KERNEL_BYTES)
        return parse_kernel(decode_text(data, text), text, name=path.stem)
    from ..suggest import did_you_mean

    message = _("unknown kernel {name}{suggestion}; run 'convcli kernels' for the list, or give a kernel file path")
    raise input_error(message.format(name=repr(text), suggestion=did_you_mean(text, files)))


def list_kernels() -> list[Kernel]:
    """All named kernels, parsed, in name order."""
    return [load_kernel(name) for name in named_kernel_files()]
