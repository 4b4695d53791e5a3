"""File-to-file jobs: read inputs, call the array functions of the domain modules, write outputs.

``gray`` and ``channels`` (colour), ``evaluate`` (a model on a dataset's test set, with its
plots). Every output is checked before any work and written atomically; nothing is printed:
each job returns what it wrote, and the CLI renders it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .color import check_gray_method, gray_image, gray_pixels, to_gray
from .errors import input_error

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    from PIL import Image as PILImage

    from .datasets import Dataset
    from .evaluation import EvalResult


@dataclass
class GrayResult:
    """Where a gray conversion went and its (H, W) shape; for image outputs and ``-`` also the
    8-bit gray Pillow image (the caller writes ``-`` to stdout as PNG)."""

    output: str
    shape: tuple[int, int]
    image: PILImage.Image | None = field(default=None, repr=False)

    @property
    def pixels(self) -> np.ndarray | None:
        """The 8-bit gray pixels as a (H, W) uint8 array, or None for raw outputs."""
        import numpy as np

        return None if self.image is None else np.asarray(self.image)


def gray_file(
    source: str,
    output: str,
    *,
    method: str = "luma",
    max_pixels: int | None = None,
    in_place: bool = False,
) -> GrayResult:
    """Convert an image file (``-``: stdin, ``sample:NAME``) to gray and write it to ``output``.

    With ``output`` ``-`` nothing is written: the caller sends ``pixels`` to stdout as PNG.
    ``.npy`` and text outputs keep the exact float values. 8-bit RGB/RGBA/gray image files
    written as images take the Pillow-only path (start-up matters for one image); everything
    else goes through numpy, with the same pixels.
    """
    from PIL import Image

    from .images import (
        DEFAULT_MAX_PIXELS,
        SAMPLE_PREFIX,
        encode_pil,
        image_format_for,
        image_to_array,
        is_raw_path,
        open_image,
        read_bytes,
        read_source,
        write_array,
    )
    from .outputs import check_output_path, write_bytes

    check_gray_method(method)
    if output != "-":
        check_output_path(output, inputs=(source,), in_place=in_place)
    limit = max_pixels or DEFAULT_MAX_PIXELS
    raw_output = output != "-" and is_raw_path(output)
    fmt = "PNG" if output == "-" else None if raw_output else image_format_for(output)
    pil: PILImage.Image | None = None
    array: np.ndarray | None = None
    if source.startswith(SAMPLE_PREFIX) or is_raw_path(source):  # samples, .npy and text matrices
        array = read_source(source, max_pixels=limit)
    else:
        decoded = open_image(read_bytes(source), source, max_pixels=limit)
        if not raw_output:
            pil = gray_image(decoded, method)
        if pil is None:
            array = image_to_array(decoded, source)
    if raw_output:
        assert array is not None
        gray = to_gray(array, method)
        write_array(output, gray)
        return GrayResult(output, (gray.shape[0], gray.shape[1]))
    if pil is None:
        assert array is not None
        pil = Image.fromarray(gray_pixels(array, method))
    if output != "-":
        assert fmt is not None
        write_bytes(output, encode_pil(pil, fmt, png_level=1))
    return GrayResult(output, (pil.height, pil.width), pil)


def channels_file(source: str, out_dir: str, *, max_pixels: int | None = None) -> list[str]:
    """Write an image's R, G and B planes to ``out_dir``, as gray and colour-mapped PNGs.

    Files: ``<stem>-red.png`` (gray) and ``<stem>-red-Reds.png`` (Reds colour map, as the
    lecture's notebook shows with ``plt.imshow(img[:, :, 0], cmap='Reds')``), and so on.
    """
    import numpy as np

    from .color import CHANNEL_CMAPS, channel_planes, colormap_plane
    from .images import DEFAULT_MAX_PIXELS, encode_image, read_source, source_stem
    from .outputs import check_output_dir, write_bytes

    folder = check_output_dir(out_dir)
    image = read_source(source, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
    stem = source_stem(source)
    written: list[str] = []
    for (name, plane), cmap in zip(channel_planes(image).items(), CHANNEL_CMAPS):
        pixels = np.clip(np.rint(plane), 0, 255).astype(np.uint8)
        gray_path = folder / f"{stem}-{name}.png"
        write_bytes(gray_path, encode_image(pixels))
        cmap_path = folder / f"{stem}-{name}-{cmap}.png"
        write_bytes(cmap_path, encode_image(colormap_plane(plane, cmap)))
        written += [str(gray_path), str(cmap_path)]
    return written


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
    dataset: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    plot_dir: str | os.PathLike[str] | None = None,
    data: str | os.PathLike[str] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Evaluation:
    """Load a ``.keras`` model (safe mode), evaluate it on a dataset's test set and, with
    ``plot_dir``, draw the confusion heat map and the misclassified images there.

    ``data``: a folder of pictures or an IDX set (see :func:`convcli.imagefolders.load_test_folder`);
    a model trained on a folder is by default evaluated on its run's own test split.
    """
    from .datasets import load_dataset
    from .evaluation import evaluate_arrays
    from .models import load_model
    from .outputs import check_output_dir

    folder = check_output_dir(plot_dir) if plot_dir is not None else None
    labelled = _folder_test_set(model_path, data, warn)
    model = load_model(model_path)
    if labelled is None:
        test_set, evaluated_on, names = load_dataset(dataset, data_dir), None, None
    else:
        (test_set, evaluated_on), names = labelled, labelled[0].class_names
    result = evaluate_arrays(model, test_set.x_test, test_set.y_test, len(test_set.class_names))
    plots: list[Path] = []
    if folder is not None:
        from .plots import plot_evaluation

        plots = plot_evaluation(
            result,
            test_set.x_test,
            test_set.y_test,
            folder,
            stem=Path(model_path).stem,
            class_names=test_set.class_names,
        )
    return Evaluation(result, plots, evaluated_on, names)


def _folder_test_set(
    model_path: str | os.PathLike[str], data: str | os.PathLike[str] | None, warn: Callable[[str], None] | None
) -> tuple[Dataset, str] | None:
    """The test pictures of ``data``, or of the folder the model was trained on (named by its
    run record); None for a model of a built-in dataset evaluated on one."""
    from .datasets import DATASETS
    from .imagefolders import load_test_folder
    from .modelmeta import read_meta

    meta = read_meta(model_path)
    if data is None and (not meta.stored or meta.dataset in DATASETS):
        return None
    record = recorded_data(model_path)
    if data is None:
        if record is None:
            raise input_error(
                f"{model_path}: trained on {meta.dataset}; give the labelled pictures to evaluate on (data)"
            )
        data = record["folder"]
    return load_test_folder(data, meta, record, warn)


def recorded_data(model_path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What the run record beside a model says about a folder it was trained on, or None."""
    import json

    from .checkpoints import record_path_for

    try:
        record = json.loads(record_path_for(model_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    data = record.get("data") if isinstance(record, dict) else None
    return data if isinstance(data, dict) and isinstance(data.get("folder"), str) else None
