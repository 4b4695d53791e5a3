"""``convcli`` commands on images: gray, channels, kernels, filter."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from ..errors import EXIT_FAILURE, ConvcliError
from ..filtering.config import ACTIVATIONS, BORDERS, PADDINGS
from ..i18n import tr as _
from ..imaging.encoding import RANGES, output_format
from ..imaging.images import DEFAULT_MAX_PIXELS
from ..outputs import never_replacing
from .batch import BatchView, FolderArgs, folder_batch, with_batch_options
from .common import app, check_png_stdout, echo, print_json, single_source, write_png_stdout
from .kernels import kernels_app
from .options import (
    Depth,
    FilesFrom,
    Frame,
    GrayMethod,
    InPlace,
    Json,
    KeepGoing,
    MaxPixels,
    NameTemplate,
    NoClobber,
    Null,
    OutDir,
    OutputFormat,
    Parents,
    Quality,
    Sample,
    ShardOption,
    SkipExisting,
    Workers,
    batch_inputs,
    check_dash_out_dir,
    choice,
    complete_kernels,
    depth_bits,
    existing_mode,
    shard_option,
    shard_size,
)

app.add_typer(kernels_app, name="kernels")

ImageInputs = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="INPUT...",
        help="Image files (PNG, JPEG, TIFF, BMP…), .npy arrays, or - for stdin; several need --out-dir.",
    ),
]


@app.command()
@with_batch_options
def gray(
    inputs: ImageInputs = None,
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="Output image, .npy/.txt (raw values) or - (PNG).")
    ] = None,
    out_dir: OutDir = None,
    fmt: OutputFormat = None,
    method: GrayMethod = "luma",
    sample: Sample = None,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    in_place: InPlace = False,
    json_: Json = False,
    depth: Depth = None,
    quality: Quality = None,
    frame: Frame = None,
    **batch: Any,
) -> None:
    """Convert a colour image to gray, by the lecture's formulas (rounded half up; alpha kept).
    Several inputs (or a list) go to --out-dir as <stem>-gray.png each.

    Example:

    \b
        convcli gray photo.jpg -o photo-gray.png --method average
        convcli gray --sample astronaut -o astronaut-gray.png
        convcli gray photos/*.jpg --out-dir grays/ --json
        find photos -name '*.jpg' -print0 | convcli gray --files-from - --null -d grays --skip-existing
    """
    options = FolderArgs(**batch, fmt=fmt)
    sources = options.sources(inputs, sample)
    existing = options.existing
    if out_dir is None and options.one_input(sources):
        if fmt is not None:
            output_format(fmt, output)  # -o's suffix is the format: a --format that disagrees is refused
        source = single_source((inputs or [None])[0], sample)
        _gray_one(source, output, method, max_pixels, in_place, json_, depth, existing, quality, frame)
        return
    if output is not None and out_dir is None and (options.name is not None or options.parents):
        raise ConvcliError(_("--name and --parents name files in an output folder: give --out-dir DIR"))
    if output is not None:
        raise ConvcliError(_("give either -o OUTPUT (one input) or --out-dir DIR (several), not both"))
    folder_batch(
        "gray",
        sources,
        out_dir,
        options,
        json_,
        method=method,
        max_pixels=max_pixels,
        depth=depth_bits(depth),
        quality=quality,
        frame=frame,
    )


def _gray_one(
    source: str,
    output: str | None,
    method: str,
    max_pixels: int,
    in_place: bool,
    json_: bool,
    depth: str | None,
    existing: str,
    quality: int | None = None,
    frame: int | None = None,
) -> None:
    """One input to ``-o OUTPUT``, as ``gray`` always did (Pillow only for 8-bit pictures)."""
    from ..jobs import gray_file

    if output is None:
        raise ConvcliError(_("give -o OUTPUT (or -o - for PNG on stdout), or --out-dir DIR"))
    if output == "-" and json_:
        raise ConvcliError(_("--json and -o - both want stdout: write the image to a file"))
    check_png_stdout(output)
    if existing != "overwrite" and output != "-" and os.path.lexists(output):
        if existing == "refuse":
            raise ConvcliError(_("--no-clobber: {path} exists already; nothing was written").format(path=repr(output)))
        if json_:
            print_json({"input": source, "output": output, "skipped": True})
        return
    kept = [output] if existing != "overwrite" and output != "-" else []
    with never_replacing(kept):  # another run writing OUTPUT meanwhile is not overwritten
        result = gray_file(
            source,
            output,
            method=method,
            max_pixels=max_pixels,
            in_place=in_place,
            depth=depth_bits(depth),
            quality=quality,
            frame=frame,
        )
    if result.output == "-":
        write_png_stdout(result.pixels)
    elif json_:
        print_json({"input": source, "output": result.output, "method": method, "shape": list(result.shape)})


@app.command()
@with_batch_options
def channels(
    inputs: ImageInputs = None,
    out_dir: Annotated[str | None, typer.Option("--out-dir", "-d", help="Existing folder for the planes.")] = None,
    sample: Sample = None,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    json_: Json = False,
    depth: Depth = None,
    frame: Frame = None,
    **batch: Any,
) -> None:
    """Write the R, G and B planes of a colour image, gray and colour-mapped (Reds, Greens, Blues).

    Example:

    \b
        mkdir planes && convcli channels --sample coffee --out-dir planes
        convcli channels photos/*.png --out-dir planes --json
    """
    from ..jobs import channels_file

    options = FolderArgs(**batch)
    sources = options.sources(inputs, sample)
    existing = options.existing
    if out_dir is None:
        raise ConvcliError(_("give --out-dir DIR: an existing folder for the planes"))
    if existing == "overwrite" and options.one_input(sources):
        source = single_source((inputs or [None])[0], sample)
        written = channels_file(source, out_dir, max_pixels=max_pixels, depth=depth_bits(depth), frame=frame)
        if json_:
            print_json({"input": source, "outputs": written})
        else:
            for path in written:
                echo(path + "\n")
        return
    folder_batch(
        "channels",
        sources,
        out_dir,
        options,
        json_,
        max_pixels=max_pixels,
        depth=depth_bits(depth),
        frame=frame,
    )


@app.command("filter")
def filter_(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="INPUT...",
            help="Images (PNG, JPEG, TIFF…), .npy arrays, text matrices (.txt/.csv, the kernel file format), "
            "or - for image bytes on stdin.",
        ),
    ] = None,
    kernel: Annotated[
        list[str],
        typer.Option(
            "-k", "--kernel", help="Kernel name or file; repeat for several filters.", autocompletion=complete_kernels
        ),
    ] = ...,
    output: Annotated[
        str | None,
        typer.Option(
            "-o", "--output", help="Output file: image suffix, .npy (raw float32), .txt/.csv (raw), or - for PNG."
        ),
    ] = None,
    out_dir: OutDir = None,
    fmt: OutputFormat = None,
    stride: Annotated[
        str,
        typer.Option(
            "--stride",
            "-s",
            metavar="S|SxS",
            help="Step of the kernel (S), or rows x columns (2x1). Outputs sit on Keras's grid: with --padding "
            "same the odd row or column of padding goes after the image, so which pixels are sampled depends "
            "on N being odd or even.",
        ),
    ] = "1",
    padding: Annotated[
        str,
        typer.Option(
            "--padding",
            "-p",
            metavar="valid|same|P",
            autocompletion=lambda incomplete: [p for p in PADDINGS if p.startswith(incomplete)],
            help="valid (P=0), same (output ⌈N/S⌉) or the lecture's P: that many zeros on each side; the "
            "border is zeros, as Keras pads, unless --border.",
        ),
    ] = "valid",
    border: Annotated[
        str,
        choice(
            "--border",
            choices=BORDERS,
            help="What --padding same pads with: zero (Keras's P); reflect, c b|a b c (numpy 'reflect', "
            "OpenCV BORDER_REFLECT_101, scipy 'mirror'); symmetric, b a|a b c (numpy 'symmetric', OpenCV "
            "BORDER_REFLECT, scipy 'reflect'); edge, a a|a b c (ImageMagick's default); wrap, b c|a b c.",
        ),
    ] = "zero",
    activation: Annotated[
        str, choice("--activation", "-a", choices=ACTIVATIONS, help="Applied after the bias.")
    ] = "linear",
    bias: Annotated[float | None, typer.Option("--bias", help="Bias added to every filter's output.")] = None,
    to_gray: Annotated[bool, typer.Option("--gray", help="Convert colour input to gray first.")] = False,
    range_mode: Annotated[
        str,
        choice("--range", choices=RANGES, help="Values to pixels; raw: .npy/.txt outputs only."),
    ] = "clip",
    sample: Sample = None,
    json_: Json = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    keep_going: KeepGoing = False,
    in_place: InPlace = False,
    workers: Workers = None,
    png_level: Annotated[
        int, typer.Option("--png-level", min=0, max=9, help="zlib level for PNG outputs (same pixels).")
    ] = 1,
    name: NameTemplate = None,
    parents: Parents = False,
    depth: Depth = None,
    files_from: FilesFrom = None,
    null: Null = False,
    shard: ShardOption = None,
    no_clobber: NoClobber = False,
    skip_existing: SkipExisting = False,
    quality: Quality = None,
    frame: Frame = None,
) -> None:
    """Apply kernels with a single-layer Keras Conv2D (N kernels = one layer with N filters).

    Example:

    \b
        convcli filter examples/lecture-5x5.txt -k sharpen     # 266 -61 -30 ...
        convcli filter examples/lecture-5x5.txt -k sharpen --padding same
        convcli filter examples/x.txt -k x-cross -k x-diag -p same -a relu
        convcli filter examples/rgb-5x5x3.txt -k lecture-w0 -k lecture-w1 \\
            --stride 2 --padding 1
        convcli filter --sample astronaut -k edges --gray -o edges.png
        convcli filter photo.jpg -k gaussian5 -p same --border reflect -o soft.jpg
        convcli filter photos/*.jpg -k sobel-x -k sobel-y -d out/ --range abs
        find in -name '*.png' -print0 | \\
            convcli filter -k edges -d out --parents --files-from - --null --json
        convcli filter -k edges -d out --files-from list.txt --shard 2/8 \\
            --skip-existing                              # node 2 of 8
        convcli filter -k edges -d out -- -dash.png      # -- before names with -
    """
    from ..filtering.config import FilterConfig
    from ..filtering.pipeline import filter_images

    sources = batch_inputs(inputs, files_from, null, sample)
    existing = existing_mode(no_clobber, skip_existing)
    chosen = shard_option(shard)
    if output == "-" and json_:
        raise ConvcliError(_("--json and -o - both want stdout: write the image to a file"))
    check_png_stdout(output)
    check_dash_out_dir(out_dir, "filter -k KERNEL")
    view = BatchView(
        inputs=shard_size(sources, chosen),
        outputs_per_input=len(kernel),
        json_=json_,
        keep_going=keep_going,
        png_level=png_level,
    )
    with view.running():
        config = FilterConfig(
            output=output,
            out_dir=out_dir,
            fmt=fmt,
            stride=stride,
            padding=padding,
            activation=activation,
            bias=bias,
            border=border,
            gray=to_gray,
            range_mode=range_mode,
            depth=depth_bits(depth),
            png_level=png_level,
            quality=quality,
            max_pixels=max_pixels,
            frame=frame,
            name_template=name,
            parents=parents,
            in_place=in_place,
            existing=existing,
            keep_going=keep_going,
            workers=workers,
            shard=chosen,
        )
        result = filter_images(sources, kernel, config, report=view.report)
    if result.failures:
        raise typer.Exit(EXIT_FAILURE)
