"""Everything that defines a ``filter`` run but the inputs and kernels, in one value.

:func:`convcli.filtering.pipeline.filter_images` takes a :class:`FilterConfig` the way
:func:`convcli.training.run.train` takes a ``TrainConfig``; its keyword arguments are a shortcut
that fills one in. Numpy-free, so the CLI builds it before anything heavy is imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from ..errors import input_error
from ..i18n import tr
from ..imaging.decoding import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:
    from ..batches.inputs import Shard

PADDINGS = ("valid", "same")
"""Keras's padding names: ``valid`` (P = 0) and ``same`` (the output keeps ⌈N / S⌉)."""
ACTIVATIONS = ("linear", "relu")
"""The activations a filter layer may apply (the lecture shows maps before and after ReLU)."""
BORDERS = ("zero", "reflect", "edge", "wrap", "symmetric")
"""What ``same`` padding holds: zeros, or numpy.pad's reflect (d c b | a b c d: OpenCV's
BORDER_REFLECT_101, scipy.ndimage's ``mirror``), edge (a a a | a b c d), wrap (b c d | a b c d)
or symmetric (c b a | a b c d: OpenCV's BORDER_REFLECT, scipy.ndimage's ``reflect``)."""


@dataclass(frozen=True, kw_only=True)
class FilterConfig:
    """How to filter and where the results go.

    ``output``: a file (its suffix picks the format), ``-`` for PNG on stdout, or None for matrix
    results on stdout; ``out_dir``: one file per input and kernel, named by ``name_template`` plus
    ``.<fmt>``. ``stride``, ``padding``, ``activation``, ``bias`` and ``border`` configure the one
    Conv2D layer; ``gray`` converts colour inputs first; ``range_mode``, ``depth``, ``png_level``
    and ``quality`` how values are written; ``shard``, ``existing`` and ``keep_going`` which
    inputs are worked on (see :mod:`convcli.batches.planning`).
    """

    output: str | None = None
    out_dir: str | os.PathLike[str] | None = None
    fmt: str | None = None
    stride: int | str | tuple[int, int] = 1
    padding: str | int = "valid"
    activation: str = "linear"
    bias: float | None = None
    border: str = "zero"
    gray: bool = False
    range_mode: str = "clip"
    depth: int | None = None
    png_level: int = 1
    quality: int | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    frame: int | None = None
    band_rows: int | None = None
    name_template: str | None = None
    parents: bool = False
    in_place: bool = False
    existing: str = "overwrite"
    keep_going: bool = False
    workers: int | None = None
    shard: Shard | None = None

    def updated(self, options: dict[str, Any]) -> FilterConfig:
        """This config with ``options`` (keyword arguments of ``filter_images``) applied; an
        unknown name is an input error listing the known ones."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise input_error(
                tr("filter_images: unknown option {option!r}; options: {options}").format(
                    option=unknown[0], options=", ".join(sorted(known))
                )
            )
        return replace(self, **options) if options else self
