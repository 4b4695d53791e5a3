"""File-to-file jobs: read inputs, call the array functions of the domain modules, write outputs.

``gray`` and ``channels`` (colour) and ``evaluate`` (a model on a dataset's test set, with its
plots); the ``filter`` job is :mod:`convcli.filtering.pipeline`, and what batches report is
:mod:`convcli.filtering.records`. Every output is
checked before any work and written atomically; nothing is printed: each job returns (or
reports) what it wrote, and the CLI renders it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import input_error
from .i18n import tr
from .imaging.color import check_gray_method, gray_image, gray_pixels, to_gray
from .imaging.decoding import Picture

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image as PILImage

    from .datasets.idx import Dataset
    from .prediction.evaluation import EvalResult


@dataclass
class GrayResult:
    """Where a gray conversion went and its (H, W) shape; for image outputs and ``-`` also the
    gray pixels, as a Pillow image (8-bit path) or an array (the caller writes ``-`` as PNG)."""

    output: str
    shape: tuple[int, int]
    image: PILImage.Image | None = field(default=None, repr=False)
    array: np.ndarray | None = field(default=None, repr=False)

    @property
    def pixels(self) -> np.ndarray | None:
        """The gray pixels, (H, W) or with alpha (H, W, 2), uint8 or uint16; None for raw outputs."""
        import numpy as np

        return self.array if self.image is None else np.asarray(self.image)


def _gray_in_pillow(image: PILImage.Image, method: str, keep_alpha: bool) -> PILImage.Image | None:
    """Gray (with its alpha when kept) of an 8-bit RGB, RGBA, L or LA image inside Pillow, or None."""
    from PIL import Image

    if image.mode == "LA":
        return image.copy() if keep_alpha else image.getchannel("L")
    gray = gray_image(image, method)
    if gray is not None and keep_alpha and image.mode == "RGBA":
        return Image.merge("LA", (gray, image.getchannel("A")))
    return gray


def _gray_picture(picture: Picture, method: str, fmt: str, output: str, depth: int | None) -> np.ndarray:
    """Gray pixels of a decoded picture at the output's depth, alpha appended where kept."""
    from .imaging.encoding import keep_or_flatten, output_depth, to_pixels

    bits = output_depth(output, fmt, picture.depth, depth)
    gray = gray_pixels(picture.colour, method, peak=picture.peak, depth=bits, source=picture.source)
    if picture.alpha is None:
        return gray
    return keep_or_flatten(gray, to_pixels(picture.alpha, peak=picture.peak, depth=bits), fmt, bits)


def gray_file(
    source: str,
    output: str,
    *,
    method: str = "luma",
    max_pixels: int | None = None,
    in_place: bool = False,
    depth: int | None = None,
    quality: int | None = None,
    frame: int | None = None,
) -> GrayResult:
    """Convert an image file (``-``: stdin, ``sample:NAME``) to gray and write it to ``output``.

    With ``output`` ``-`` nothing is written: the caller sends ``pixels`` to stdout as PNG.
    Alpha is kept (PNG, TIFF, WebP) and 16-bit inputs give 16-bit PNG/TIFF unless ``depth`` is
    8; ``.npy`` and text outputs keep the exact float values, in the input's own scale. 8-bit
    RGB/RGBA/gray image files written as 8-bit images take the Pillow-only path (start-up
    matters for one image); everything else goes through numpy, with the same pixels.
    ``quality``: JPEG's and WebP's (None: JPEG 95, WebP lossless; see
    :func:`~convcli.imaging.encoding.save_options`). ``frame``: which frame of an animated GIF or
    multi-page TIFF (None: such files are refused, never cut to their first frame silently).
    """
    from .imaging.decoding import open_deep_or_image, picture_from_pil
    from .imaging.encoding import ALPHA_FORMATS, check_quality, output_depth, write_pixels
    from .imaging.images import (
        DEFAULT_MAX_PIXELS,
        SAMPLE_PREFIX,
        encode_pil,
        image_format_for,
        is_raw_path,
        read_bytes,
        read_picture,
        write_array,
    )
    from .outputs import check_output_path, write_bytes

    check_gray_method(method)
    check_quality(quality)
    if output != "-":
        check_output_path(output, inputs=(source,), in_place=in_place)
    limit = max_pixels or DEFAULT_MAX_PIXELS
    raw_output = output != "-" and is_raw_path(output)
    fmt = "PNG" if output == "-" else "" if raw_output else image_format_for(output)
    if not raw_output:
        output_depth(output, fmt, None, depth)  # a wrong depth for the format: refused before any work
    pil: PILImage.Image | None = None
    if source.startswith(SAMPLE_PREFIX) or is_raw_path(source):  # samples, .npy and text matrices
        picture = read_picture(source, max_pixels=limit, frame=frame)
    else:
        opened = open_deep_or_image(read_bytes(source), source, max_pixels=limit, frame=frame)
        transparent = not isinstance(opened, Picture) and (
            opened.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in opened.info
        )
        if (
            not raw_output
            and depth != 16
            and not isinstance(opened, Picture)
            and (
                fmt in ALPHA_FORMATS or not transparent  # alpha into a format without it: laid on white below
            )
        ):
            pil = _gray_in_pillow(opened, method, fmt in ALPHA_FORMATS)
        picture = opened if isinstance(opened, Picture) or pil is not None else picture_from_pil(opened, source)
    if raw_output:
        gray = to_gray(picture.colour, method, source)
        write_array(output, gray)
        return GrayResult(output, (gray.shape[0], gray.shape[1]))
    if pil is not None:
        if output != "-":
            write_bytes(output, encode_pil(pil, fmt, png_level=1, quality=quality))
        return GrayResult(output, (pil.height, pil.width), pil)
    assert isinstance(picture, Picture)
    pixels = _gray_picture(picture, method, fmt, output, depth)
    if output != "-":
        write_pixels(output, pixels, fmt, png_level=1, quality=quality)
    return GrayResult(output, (pixels.shape[0], pixels.shape[1]), None, pixels)


def channels_file(
    source: str,
    out_dir: str,
    *,
    max_pixels: int | None = None,
    depth: int | None = None,
    targets: list[str] | None = None,
    frame: int | None = None,
) -> list[str]:
    """Write an image's R, G and B planes to ``out_dir``, as gray and colour-mapped PNGs.

    Files: ``<stem>-red.png`` (gray, 16-bit for 16-bit inputs unless ``depth`` is 8) and
    ``<stem>-red-Reds.png`` (Reds colour map, as the lecture's notebook shows with
    ``plt.imshow(img[:, :, 0], cmap='Reds')``), and so on; an input's alpha is kept in both.
    ``targets``: the six paths instead, in that order (a batch names them, see
    :func:`convcli.batches.jobs.channels_files`). ``frame``: as :func:`gray_file`'s.
    """
    from .imaging.color import CHANNEL_CMAPS, CHANNEL_NAMES, iter_planes
    from .imaging.encoding import output_depth
    from .imaging.images import DEFAULT_MAX_PIXELS, read_picture, source_stem
    from .outputs import check_output_dir

    folder = check_output_dir(out_dir)
    output_depth(str(folder / "plane.png"), "PNG", None, depth)  # a wrong depth: refused before any work
    picture = read_picture(source, max_pixels=max_pixels or DEFAULT_MAX_PIXELS, frame=frame)
    bits = output_depth(str(folder / "plane.png"), "PNG", picture.depth, depth)
    iter_planes(picture.colour, source)  # checks the shape: three colour channels
    stem = source_stem(source)
    written: list[str] = []
    for i, (name, cmap) in enumerate(zip(CHANNEL_NAMES, CHANNEL_CMAPS)):
        gray_path = Path(targets[2 * i]) if targets else folder / f"{stem}-{name}.png"
        cmap_path = Path(targets[2 * i + 1]) if targets else folder / f"{stem}-{name}-{cmap}.png"
        _write_channel(picture, i, cmap, bits, (gray_path, cmap_path))
        written += [str(gray_path), str(cmap_path)]
    return written


CHANNEL_ROWS = 256
"""Rows of a channel made and written at a time: a 100-MP picture's float plane is 400 MB."""


def _write_channel(picture: Picture, index: int, cmap: str, bits: int, paths: tuple[Path, Path]) -> None:
    """Channel ``index`` as a gray PNG (``bits`` deep) and a ``cmap``-coloured PNG (stretched over
    the channel's own min–max, as imshow does), both streamed in bands of rows, alpha kept."""
    import numpy as np

    from .imaging.color import colormap_plane
    from .imaging.encoding import png_rows, sinks_open, to_pixels, with_alpha

    channel, alpha = picture.colour[..., index], picture.alpha
    value_range = (float(channel.min()), float(channel.max())) if channel.size else None
    extra = 0 if alpha is None else 1
    height, width = channel.shape
    gray_shape = (height, width) if alpha is None else (height, width, 2)
    sinks = [png_rows(paths[0], gray_shape, bits, 6), png_rows(paths[1], (height, width, 3 + extra), 8, 6)]
    with sinks_open(sinks):
        for start in range(0, height, CHANNEL_ROWS):
            plane = np.asarray(channel[start : start + CHANNEL_ROWS], dtype=np.float32)
            pixels, mapped = to_pixels(plane, peak=picture.peak, depth=bits), colormap_plane(plane, cmap, value_range)
            if alpha is not None:
                band = alpha[start : start + CHANNEL_ROWS]
                pixels = with_alpha(pixels, to_pixels(band, peak=picture.peak, depth=bits))
                mapped = with_alpha(mapped, to_pixels(band, peak=picture.peak, depth=8))
            sinks[0].add(pixels)
            sinks[1].add(mapped)


@dataclass
class Evaluation:
    """A model's test-set metrics and the pictures drawn of them (empty without a plot folder);
    for a model trained on a folder, what it was evaluated on and its class names."""

    result: EvalResult
    plots: list[Path]
    evaluated_on: str | None = None
    class_names: list[str] | None = None


def evaluate_file(
    model_path: str | os.PathLike[str],
    *,
    dataset: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    plot_dir: str | os.PathLike[str] | None = None,
    data: str | os.PathLike[str] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Evaluation:
    """Load a ``.keras`` model (safe mode) or an export (``.onnx``, ``.tflite``), evaluate it on a
    dataset's test set and, with ``plot_dir``, draw the confusion heat map and the misclassified images there.

    ``dataset``: by default the one the model was trained on (its stored metadata; MNIST for
    models that carry none); another one is used as asked, with a warning. ``data``: a folder
    of pictures or an IDX set (see :func:`convcli.datasets.folders.load_test_folder`); a model
    trained on a folder is by default evaluated on its run's own test split.
    """
    from .datasets.idx import load_dataset
    from .models.inputs import warn_assumptions
    from .models.metadata import class_names_for, dataset_for, read_meta
    from .models.runtime import load_runner
    from .outputs import check_output_dir
    from .prediction.evaluation import evaluate_arrays

    folder = check_output_dir(plot_dir) if plot_dir is not None else None
    model = load_runner(model_path)  # first: its errors say best what is wrong with the file (exports: no TensorFlow)
    warn_assumptions(model_path, read_meta(model_path), model)
    asked = data is None and dataset is not None and recorded_data(model_path) is None  # no folder of its own
    labelled = None if asked else _folder_test_set(model_path, data, warn)
    if labelled is None:
        meta, name = dataset_for(model_path, dataset)
        test_set, evaluated_on = load_dataset(name, data_dir), None
        names = class_names_for(meta, name)
    else:
        (test_set, evaluated_on), name = labelled, labelled[0].name
        if dataset is not None:
            from .errors import warn as warn_user

            warn_user(
                tr("{model}: dataset {dataset!r} ignored: this model is evaluated on {evaluated_on}").format(
                    model=model_path, dataset=dataset, evaluated_on=evaluated_on
                )
            )
        names = test_set.class_names
    result = evaluate_arrays(model, test_set.x_test, test_set.y_test, len(names), names)
    result.dataset = name
    plots: list[Path] = []
    if folder is not None:
        from .plots import plot_evaluation

        plots = plot_evaluation(
            result, test_set.x_test, test_set.y_test, folder, stem=Path(model_path).stem, class_names=names
        )
    return Evaluation(result, plots, evaluated_on, names if labelled is not None else None)


def _folder_test_set(
    model_path: str | os.PathLike[str], data: str | os.PathLike[str] | None, warn: Callable[[str], None] | None
) -> tuple[Dataset, str] | None:
    """The test pictures of ``data``, or of the folder the model was trained on (named by its
    run record); None for a model of a built-in dataset evaluated on one."""
    from .datasets.digitfolders import digit_test_folder
    from .datasets.folders import load_test_folder
    from .datasets.idx import DATASETS, idx_set_files
    from .models.inputs import preparation_for
    from .models.metadata import read_meta

    meta = read_meta(model_path)
    if data is None and (not meta.stored or meta.dataset in DATASETS):
        return None
    record = recorded_data(model_path)
    if data is None:
        if record is None:
            raise input_error(
                tr("{model}: trained on {dataset}; give the labelled pictures to evaluate on (data=DIR)").format(
                    model=model_path, dataset=meta.dataset
                )
            )
        data = record["folder"]
    if preparation_for(meta) in ("digit", "frame") and Path(data).is_dir() and idx_set_files(data) is None:
        return digit_test_folder(data, meta, warn)  # a user's scans or photos: prepared as predict prepares them
    return load_test_folder(data, meta, record, warn)


def recorded_data(model_path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What the run record beside a model says about a folder it was trained on, or None."""
    import json

    from .training.checkpoints import record_path_for

    try:
        record = json.loads(record_path_for(model_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    data = record.get("data") if isinstance(record, dict) else None
    return data if isinstance(data, dict) and isinstance(data.get("folder"), str) else None
