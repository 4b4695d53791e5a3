"""``convcli`` commands that look inside a model or the installation: feature-maps, weights, info."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..i18n import N_
from ..i18n import tr as _
from .common import app, echo, is_tty, print_json, table
from .options import DataDir, Json, ModelDataset, ModelFile, TestIndex

MAPS_OF = N_("{n} maps of {h}×{w}")
"""What ``feature-maps`` says each grid holds, after its path and layer."""

LayerName = Annotated[str | None, typer.Option("--layer-name", help="Only this layer (its name, as `summary` shows).")]


@app.command("feature-maps")
def feature_maps_cmd(
    model: ModelFile,
    image: Annotated[
        str | None, typer.Argument(metavar="IMAGE", help="A digit image, any format (or use --index).")
    ] = None,
    output: Annotated[
        str, typer.Option("-o", "--output", help="Grid PNG (several layers: one GRID-<layer>.png each).")
    ] = ...,
    layer: LayerName = None,
    index: TestIndex = None,
    dataset: ModelDataset = None,
    data_dir: DataDir = None,
    json_: Json = False,
) -> None:
    """Draw what each Conv2D and pooling layer sees: one tile per filter, like the lecture's figures.

    Example:

    \b
        convcli feature-maps lecture-cnn.keras --index 0 -o maps.png
        convcli feature-maps cnn.keras my-digit.png --layer-name conv2d -o conv1.png
    """
    from ..models.inspection import feature_maps_file

    written = feature_maps_file(
        model, output, image=image, index=index, layer=layer, dataset=dataset, data_dir=data_dir
    )
    words = _(MAPS_OF) if is_tty() else MAPS_OF  # a person reads the catalog's words; piped: as written
    for maps, path, _path in written:
        if json_:
            print_json({"layer": maps.name, "type": maps.type, "shape": list(maps.maps.shape), "output": str(path)})
        else:
            h, w, n = maps.maps.shape
            echo(f"{path}\t{maps.name}\t{words.format(n=n, h=h, w=w)}\n")


def _weight_records(
    kernels: list[Any], paths: list[Any], texts: list[str], fmt: str, filter_index: int | None
) -> list[dict[str, Any]]:
    """The ``--json`` records of ``weights``: one per PNG grid or per kernel file written (with
    no folder, the kernel file's text instead of a path)."""
    if fmt == "png":
        return [{"layer": k.name, "shape": list(k.weights.shape), "output": str(p)} for k, p in zip(kernels, paths)]
    filters = [
        (k.name, i) for k in kernels for i in (range(k.weights.shape[-1]) if filter_index is None else [filter_index])
    ]
    if paths:
        return [{"layer": name, "filter": i, "output": str(p)} for (name, i), p in zip(filters, paths)]
    return [{"layer": name, "filter": i, "output": "-", "text": t} for (name, i), t in zip(filters, texts)]


@app.command()
def weights(
    model: ModelFile,
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="Grid PNG, or an existing folder with --txt.")
    ] = None,
    layer: LayerName = None,
    txt: Annotated[
        bool, typer.Option("--txt", help="Kernel files (the kernel format, for `filter`) instead of a PNG grid.")
    ] = False,
    filter_index: Annotated[
        int | None, typer.Option("--filter-index", min=0, help="With --txt: only filter N (PNG: every filter).")
    ] = None,
    json_: Json = False,
) -> None:
    """Show the learned kernels of each Conv2D layer, as a picture or as kernel files
    that `convcli filter` can apply.

    Example:

    \b
        convcli weights cnn.keras -o kernels.png
        convcli weights cnn.keras --txt --layer-name conv2d --filter-index 3 > k3.txt
        convcli filter --sample camera --gray -k k3.txt -o what-filter-3-sees.png
    """
    from ..models.inspection import weights_file

    fmt = "txt" if txt else "png"
    kernels, paths, texts = weights_file(model, output, layer=layer, fmt=fmt, filter_index=filter_index)
    if json_:
        for record in _weight_records(kernels, paths, texts, fmt, filter_index):
            print_json(record)
    elif fmt == "txt" and output is None:
        echo("\n# ----\n".join(texts))
    else:
        for path in paths:
            echo(f"{path}\n")


@app.command()
def info(json_: Json = False) -> None:
    """Show the versions, the Keras backend (set KERAS_BACKEND to tensorflow, jax or torch) and
    the devices it sees.

    Example:

    \b
        convcli info
        KERAS_BACKEND=jax convcli info --json
        convcli --device cpu info
    """
    from importlib.metadata import version as pkg_version

    from ..backend import backend_info

    data = {"convcli": pkg_version("convcli"), **backend_info()}
    if json_:
        print_json(data)
        return
    table(
        "convcli",
        [N_("what"), N_("value")],
        [[k, ", ".join(v) if isinstance(v, list) else str(v)] for k, v in data.items()],
    )
