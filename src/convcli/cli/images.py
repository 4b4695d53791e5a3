"""``convcli`` commands on images: gray, channels, kernels, filter."""

from __future__ import annotations

from typing import Annotated

import click
import typer

from ..errors import EXIT_FAILURE, ConvcliError
from ..imaging.images import DEFAULT_MAX_PIXELS
from .batch import BatchView
from .common import HelpGroup, Typer, app, check_png_stdout, echo, print_json, single_source, table, write_png_stdout
from .options import (
    ACTIVATIONS,
    BORDERS,
    PADDINGS,
    RANGES,
    Depth,
    Frame,
    GrayMethod,
    InPlace,
    Json,
    MaxPixels,
    OutputFormat,
    Quality,
    Sample,
    complete_kernels,
    depth_bits,
)

kernels_app = Typer(
    cls=HelpGroup,
    help="List the named kernels, or show one as a matrix.\n\n"
    "Example:\n\n"
    "\b\n"
    "    convcli kernels\n"
    "    convcli kernels --json\n"
    "    convcli kernels show sharpen > my-kernel.txt",
    short_help="List the named kernels, or show one as a matrix.",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)
app.add_typer(kernels_app, name="kernels")

ImageInput = Annotated[
    str | None,
    typer.Argument(metavar="INPUT", help="An image file (PNG, JPEG, TIFF, BMP…), a .npy array, or - for stdin."),
]


@app.command()
def gray(
    input_: ImageInput = None,
    output: Annotated[
        str, typer.Option("-o", "--output", help="Output image, .npy/.txt (raw values) or - (PNG).")
    ] = ...,
    method: GrayMethod = "luma",
    sample: Sample = None,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    in_place: InPlace = False,
    json_: Json = False,
    depth: Depth = None,
    quality: Quality = None,
    frame: Frame = None,
) -> None:
    """Convert a colour image to gray, by the lecture's formulas (rounded half up; alpha kept).

    Example:

    \b
        convcli gray photo.jpg -o photo-gray.png --method average
        convcli gray --sample astronaut -o astronaut-gray.png
    """
    from ..jobs import gray_file

    source = single_source(input_, sample)
    if output == "-" and json_:
        raise ConvcliError("--json and -o - both want stdout: write the image to a file")
    check_png_stdout(output)
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
def channels(
    input_: ImageInput = None,
    out_dir: Annotated[str, typer.Option("--out-dir", "-d", help="Existing folder for the planes.")] = ...,
    sample: Sample = None,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    json_: Json = False,
    depth: Depth = None,
    frame: Frame = None,
) -> None:
    """Write the R, G and B planes of a colour image, gray and colour-mapped (Reds, Greens, Blues).

    Example:

    \b
        mkdir planes && convcli channels --sample coffee --out-dir planes
    """
    from ..jobs import channels_file

    source = single_source(input_, sample)
    written = channels_file(source, out_dir, max_pixels=max_pixels, depth=depth_bits(depth), frame=frame)
    if json_:
        print_json({"input": source, "outputs": written})
    else:
        for path in written:
            echo(path + "\n")


@kernels_app.callback()
def kernels_list(ctx: typer.Context, json_: Json = False) -> None:
    """List the named kernels (name, size, description); ``--help`` is the group's (above)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..filtering.kernels import list_kernels

    kernels = list_kernels()
    if json_:
        for k in kernels:
            print_json({"name": k.name, "size": list(k.weights.shape), "bias": k.bias, "description": k.description})
        return
    table("Named kernels", ["name", "size", "description"], [[k.name, k.size, k.description] for k in kernels])


@kernels_app.command("show")
def kernels_show(
    name: Annotated[
        str,
        typer.Argument(help="A kernel name (see `convcli kernels`) or a kernel file.", autocompletion=complete_kernels),
    ],
    json_: Json = False,
) -> None:
    """Print a kernel as a matrix, in the kernel file format (save it, edit it, use it).

    Example:

    \b
        convcli kernels show edges
    """
    from ..filtering.kernels import load_kernel

    kernel = load_kernel(name)
    if json_:
        print_json(
            {
                "name": kernel.name,
                "size": list(kernel.weights.shape),
                "weights": kernel.weights.tolist(),
                "bias": kernel.bias,
                "description": kernel.description,
            }
        )
        return
    echo(kernel.to_text())


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
    out_dir: Annotated[str | None, typer.Option("--out-dir", "-d", help="Folder for batch outputs.")] = None,
    fmt: OutputFormat = None,
    stride: Annotated[
        int,
        typer.Option(
            "--stride",
            "-s",
            min=1,
            help="Step of the kernel (S). Outputs sit on Keras's grid: with --padding same the odd row "
            "or column of padding goes after the image, so which pixels are sampled depends on N being odd or even.",
        ),
    ] = 1,
    padding: Annotated[
        str,
        typer.Option(
            "--padding",
            "-p",
            click_type=click.Choice(PADDINGS),
            help="valid (P=0) or same (output ⌈N/S⌉; the border is zeros, as Keras pads, unless --border).",
        ),
    ] = "valid",
    border: Annotated[
        str,
        typer.Option(
            "--border",
            click_type=click.Choice(BORDERS),
            help="What --padding same pads with: zero (Keras's P); reflect, c b|a b c (numpy 'reflect', "
            "OpenCV BORDER_REFLECT_101, scipy 'mirror'); symmetric, b a|a b c (numpy 'symmetric', OpenCV "
            "BORDER_REFLECT, scipy 'reflect'); edge, a a|a b c (ImageMagick's default); wrap, b c|a b c.",
        ),
    ] = "zero",
    activation: Annotated[
        str, typer.Option("--activation", "-a", click_type=click.Choice(ACTIVATIONS), help="Applied after the bias.")
    ] = "linear",
    bias: Annotated[float | None, typer.Option("--bias", help="Bias added to every filter's output.")] = None,
    to_gray: Annotated[bool, typer.Option("--gray", help="Convert colour input to gray first.")] = False,
    range_mode: Annotated[
        str,
        typer.Option("--range", click_type=click.Choice(RANGES), help="Values to pixels; raw: .npy/.txt outputs only."),
    ] = "clip",
    sample: Sample = None,
    json_: Json = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    keep_going: Annotated[
        bool,
        typer.Option(
            "--keep-going",
            help="In a batch, continue past bad files (each reported as it fails; exit status 1 at the end).",
        ),
    ] = False,
    in_place: InPlace = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-j", min=1, max=64, help="Threads decoding and encoding (default: up to 4)."),
    ] = None,
    png_level: Annotated[
        int, typer.Option("--png-level", min=0, max=9, help="zlib level for PNG outputs (same pixels).")
    ] = 1,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="TEMPLATE",
            help="With --out-dir: output file names from {stem}, {ext} (input suffix), {kernel}, {parent} "
            "(input's folder name), {index} (1, 2…; {index:04d} pads); the suffix comes from --format. "
            "Default: {stem}-{kernel}.",
        ),
    ] = None,
    parents: Annotated[
        bool,
        typer.Option(
            "--parents",
            help="With --out-dir: mirror each input's folder under it, like cp --parents "
            "(in/sub/a.png -> OUT/in/sub/a-KERNEL.png; inputs outside the current folder keep their absolute folder).",
        ),
    ] = False,
    depth: Depth = None,
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
            --stride 2 --padding same
        convcli filter --sample astronaut -k edges --gray -o edges.png
        convcli filter photo.jpg -k gaussian5 -p same --border reflect -o soft.jpg
        convcli filter photos/*.jpg -k sobel-x -k sobel-y -d out/ --range abs
        find in -name '*.png' -print0 | \\
            xargs -0 convcli filter -k edges -d out --parents --json
    """
    from ..filtering.pipeline import filter_images

    sources = list(inputs or [])
    if sample:
        sources.append(f"sample:{sample}")
    if output == "-" and json_:
        raise ConvcliError("--json and -o - both want stdout: write the image to a file")
    check_png_stdout(output)
    view = BatchView(
        inputs=len(sources), outputs_per_input=len(kernel), json_=json_, keep_going=keep_going, png_level=png_level
    )
    with view.running():
        result = filter_images(
            sources,
            kernel,
            output=output,
            out_dir=out_dir,
            fmt=fmt,
            stride=stride,
            padding=padding,
            activation=activation,
            bias=bias,
            gray=to_gray,
            range_mode=range_mode,
            max_pixels=max_pixels,
            keep_going=keep_going,
            in_place=in_place,
            workers=workers,
            png_level=png_level,
            border=border,
            depth=depth_bits(depth),
            quality=quality,
            frame=frame,
            name_template=name,
            parents=parents,
            report=view.report,
        )
    if result.failures:
        raise typer.Exit(EXIT_FAILURE)
