"""Looking inside a model: the activation maps of its conv and pooling layers for one image,
and the learned kernels of its Conv2D layers (as pictures, or as kernel files)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import input_error
from ..i18n import tr
from ..outputs import check_output_dir, check_output_path

MAP_LAYERS = ("Conv2D", "MaxPooling2D", "AveragePooling2D")


@dataclass
class LayerMaps:
    """A layer's activation maps for one image: (H, W, N)."""

    name: str
    type: str
    maps: np.ndarray


@dataclass
class LayerKernels:
    """A Conv2D layer's weights (KH, KW, C, N) and biases (N,)."""

    name: str
    weights: np.ndarray
    bias: np.ndarray


def select_layers(model: Any, name: str | None, kinds: tuple[str, ...], source: str = "") -> list[Any]:
    """The layers of the given kinds, or the one named (listing the valid names if absent); an
    error starts with ``source`` (the model's file) when given."""
    candidates = [layer for layer in model.layers if type(layer).__name__ in kinds]
    where = f"{source}: " if source else ""
    if name is None:
        if not candidates:
            raise input_error(where + tr("the model has no {kinds} layer").format(kinds=tr(" or ").join(kinds)))
        return candidates
    for layer in candidates:
        if layer.name == name:
            return [layer]
    names = ", ".join(layer.name for layer in candidates) or tr("none")
    raise input_error(
        where
        + tr("no layer named {name!r} of kind {kinds}; the model has: {names}").format(
            name=name, kinds="/".join(kinds), names=names
        )
    )


def feature_maps(model: Any, digit: np.ndarray, layer: str | None = None, source: str = "") -> list[LayerMaps]:
    """Run one uint8 image (a 28×28 digit, or an (H, W, C) picture) through ``model``; return
    each selected layer's maps (``source``: the model's file, named in errors)."""
    from ..backend import keras
    from .inputs import model_pixels

    layers = select_layers(model, layer, MAP_LAYERS, source)
    k = keras()
    probe = k.Model(inputs=model.inputs, outputs=[lay.output for lay in layers])
    outputs = probe.predict(model_pixels(model, np.asarray(digit)[None]), verbose=0)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [
        LayerMaps(lay.name, type(lay).__name__, np.asarray(out[0], dtype=np.float32))
        for lay, out in zip(layers, outputs)
    ]


def conv_kernels(model: Any, layer: str | None = None, source: str = "") -> list[LayerKernels]:
    """The weights and biases of each selected Conv2D layer (``source``: the model's file, named in errors)."""
    result = []
    for lay in select_layers(model, layer, ("Conv2D",), source):
        weights = lay.get_weights()
        bias = weights[1] if len(weights) > 1 else np.zeros(weights[0].shape[-1], np.float32)
        result.append(LayerKernels(lay.name, np.asarray(weights[0]), np.asarray(bias)))
    return result


def output_paths(output: str | os.PathLike[str], names: list[str]) -> list[Path]:
    """One path per layer: ``output`` itself for one layer, ``STEM-<layer>.png`` for several."""
    out = Path(output)
    if len(names) == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{n}{out.suffix}") for n in names]


def feature_maps_file(
    model_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    image: str | None = None,
    index: int | None = None,
    layer: str | None = None,
    dataset: str | None = None,
    data_dir: str | None = None,
) -> list[tuple[LayerMaps, Path, Any]]:
    """Write a labelled grid of activation maps per layer; returns (maps, path, layout) each.

    ``index``: a test image of ``dataset`` (default: the one the model was trained on), its
    class named in each grid's title; ``image``: prepared as the model's metadata says."""
    from ..plots import save_tiles
    from ..prediction.predict import dataset_test_item, model_input
    from .build import load_model
    from .metadata import dataset_for

    check_output_path(output, inputs=(image,) if image else ())
    if Path(str(output)).suffix.lower() != ".png":
        raise input_error(tr("{output}: the grid is written as PNG; use a .png name").format(output=output))
    if (image is None) == (index is None):
        raise input_error(tr("give an IMAGE or index=N (one of them)"))
    model = load_model(model_path)
    if index is not None:
        meta, dataset = dataset_for(model_path, dataset)
        if meta.preparation == "resize":
            raise input_error(
                tr("{model}: trained on {dataset} (pictures): give an IMAGE, not an index").format(
                    model=model_path, dataset=meta.dataset
                )
            )
        digit, label = dataset_test_item(index, dataset, data_dir)
        what = tr("{dataset} test image {index} ({label})").format(dataset=dataset, index=index, label=label)
    else:
        digit, what = model_input(model_path, str(image)), Path(str(image)).name
    layers = feature_maps(model, digit, layer, str(model_path))
    written = []
    for maps, path in zip(layers, output_paths(output, [m.name for m in layers])):
        title = tr("{layer} ({type}) on {what}").format(layer=maps.name, type=maps.type, what=what)
        layout = save_tiles(maps.maps, path, title)
        written.append((maps, path, layout))
    return written


def _check_weights_request(
    model_path: str | os.PathLike[str], output: str | os.PathLike[str] | None, fmt: str, filter_index: int | None
) -> None:
    """Refuse a format, filter and output that do not go together, before the model is loaded."""
    if fmt not in ("png", "txt"):
        raise input_error(tr("unknown fmt {fmt!r}: use png or txt").format(fmt=fmt))
    if fmt == "png":
        if filter_index is not None:
            raise input_error(
                tr("{model}: filter {index} is for txt output; a PNG grid shows every filter").format(
                    model=model_path, index=filter_index
                )
            )
        if output is None:
            raise input_error(tr("a PNG grid needs -o GRID.png"))
        check_output_path(output)
    elif output is not None:
        check_output_dir(output)


def weights_file(
    model_path: str | os.PathLike[str],
    output: str | os.PathLike[str] | None,
    *,
    layer: str | None = None,
    fmt: str = "png",
    filter_index: int | None = None,
) -> tuple[list[LayerKernels], list[Path], list[str]]:
    """Kernels of Conv2D layers: a PNG grid per layer, or kernel-file text per filter.

    Returns (kernels, PNG paths written, text blocks). With ``fmt`` ``txt`` and an output
    folder, each filter is written as ``<layer>-<i>.txt`` (a kernel file ``convcli filter`` reads).
    """
    from ..imaging.textformat import format_matrix
    from ..plots import save_tiles
    from .build import load_model
    from .metadata import read_meta

    _check_weights_request(model_path, output, fmt, filter_index)
    model = load_model(model_path)
    meta = read_meta(model_path)
    trained = tr(" (trained on {dataset})").format(dataset=meta.dataset) if meta.stored else ""
    kernels = conv_kernels(model, layer, str(model_path))
    paths: list[Path] = []
    texts: list[str] = []
    if fmt == "png":
        for lk, path in zip(kernels, output_paths(output, [lk.name for lk in kernels])):
            kh, kw, c, n = lk.weights.shape
            tiles = lk.weights.transpose(0, 1, 3, 2).reshape(kh, kw, n * c)  # filter-major
            titles = [f"f{f}" if c == 1 else f"f{f}c{ch}" for f in range(n) for ch in range(c)]
            save_tiles(
                tiles,
                path,
                tr("{layer}: {n} kernels of {size}").format(layer=lk.name, n=n, size=f"{kh}×{kw}×{c}"),
                signed=True,
                tile_titles=titles,
                columns=c if 1 < c <= 32 else None,
            )
            paths.append(path)
        return kernels, paths, texts
    for lk in kernels:
        n = lk.weights.shape[-1]
        indices = range(n) if filter_index is None else [filter_index]
        if filter_index is not None and not 0 <= filter_index < n:
            raise input_error(
                tr("filter_index {index} is out of range: {layer} has {n} filters").format(
                    index=filter_index, layer=lk.name, n=n
                )
            )
        for i in indices:
            w = lk.weights[:, :, :, i]
            w = w[:, :, 0] if w.shape[2] == 1 else w
            text = format_matrix(
                w,
                name=f"{lk.name}-{i}",
                description=tr("filter {index} of layer {layer} in {model}").format(
                    index=i, layer=lk.name, model=Path(model_path).name
                )
                + trained,
                bias=float(lk.bias[i]),
            )
            texts.append(text)
            if output is not None:
                from ..outputs import write_text

                path = Path(output) / f"{lk.name}-{i}.txt"
                write_text(path, text)
                paths.append(path)
    return kernels, paths, texts
