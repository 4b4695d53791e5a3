"""``convcli`` commands on images: gray, channels, kernels, filter (registered on ``cli.app``)."""

from __future__ import annotations

import sys

import typer

from .cli import (
    ConvcliError,
    _print_json,
    _source,
    _stderr,
    _table,
    _write_png_stdout,
    app,
    handle_errors,
    kernels_app,
)
from .errors import EXIT_FAILURE

# --------------------------------------------------------------------------- images


@app.command()
@handle_errors
def gray(
    input_: str = typer.Argument(None, metavar="INPUT", help="Image file, or - for stdin."),
    output: str = typer.Option(..., "-o", "--output", help="Output image (- for PNG on stdout)."),
    method: str = typer.Option("luma", "--method", "-m", help="luma: 0.3R+0.59G+0.11B; average: (R+G+B)/3; bt709."),
    sample: str = typer.Option(None, "--sample", help="Use a bundled sample image instead."),
    max_pixels: int = typer.Option(100_000_000, "--max-pixels", help="Refuse larger images."),
    in_place: bool = typer.Option(False, "--in-place", help="Allow OUTPUT to be INPUT."),
) -> None:
    """Convert a colour image to gray, by the lecture's formulas.

    Example:

    \b
        convcli gray photo.jpg -o photo-gray.png --method average
        convcli gray --sample astronaut -o astronaut-gray.png
    """
    from .color import gray_file

    result = gray_file(_source(input_, sample), output, method=method, max_pixels=max_pixels, in_place=in_place)
    if result.output == "-":
        _write_png_stdout(result.pixels)


@app.command()
@handle_errors
def channels(
    input_: str = typer.Argument(None, metavar="INPUT", help="Colour image file, or -."),
    out_dir: str = typer.Option(..., "--out-dir", "-d", help="Existing folder for the planes."),
    sample: str = typer.Option(None, "--sample", help="Use a bundled sample image instead."),
    max_pixels: int = typer.Option(100_000_000, "--max-pixels", help="Refuse larger images."),
    json_: bool = typer.Option(False, "--json", help="Print the written paths as JSON."),
) -> None:
    """Write the R, G and B planes of a colour image, gray and colour-mapped (Reds, Greens, Blues).

    Example:

    \b
        mkdir planes && convcli channels --sample coffee --out-dir planes
    """
    from .color import channels_file

    written = channels_file(_source(input_, sample), out_dir, max_pixels=max_pixels)
    if json_:
        _print_json({"input": _source(input_, sample), "outputs": written})
    else:
        for path in written:
            sys.stdout.write(path + "\n")


@kernels_app.callback()
@handle_errors
def kernels_list(
    ctx: typer.Context,
    json_: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List the named kernels (name, size, description).

    Example:

    \b
        convcli kernels
        convcli kernels show sharpen > my-kernel.txt
    """
    if ctx.invoked_subcommand is not None:
        return
    from .kernels import list_kernels

    kernels = list_kernels()
    if json_:
        _print_json(
            [
                {"name": k.name, "size": list(k.weights.shape), "bias": k.bias, "description": k.description}
                for k in kernels
            ]
        )
        return
    _table("Named kernels", ["name", "size", "description"], [[k.name, k.size, k.description] for k in kernels])


@kernels_app.command("show")
@handle_errors
def kernels_show(
    name: str = typer.Argument(..., help="A kernel name or a kernel file path."),
    json_: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Print a kernel as a matrix, in the kernel file format (save it, edit it, use it).

    Example:

    \b
        convcli kernels show edges
    """
    from .kernels import load_kernel

    kernel = load_kernel(name)
    if json_:
        _print_json(
            {
                "name": kernel.name,
                "size": list(kernel.weights.shape),
                "weights": kernel.weights.tolist(),
                "bias": kernel.bias,
                "description": kernel.description,
            }
        )
        return
    sys.stdout.write(kernel.to_text())


@app.command("filter")
@handle_errors
def filter_(
    inputs: list[str] = typer.Argument(
        None,
        metavar="INPUT...",
        help="Images, .npy arrays, text matrices (.txt/.csv), or - for image bytes on stdin.",
    ),
    kernel: list[str] = typer.Option(..., "-k", "--kernel", help="Kernel name or file; repeat for several filters."),
    output: str = typer.Option(
        None,
        "-o",
        "--output",
        help="Output file: image suffix, .npy (raw float32), .txt/.csv (raw), or - for PNG.",
    ),
    out_dir: str = typer.Option(None, "--out-dir", "-d", help="Folder for batch outputs."),
    fmt: str = typer.Option("png", "--format", help="Output format with --out-dir."),
    stride: int = typer.Option(1, "--stride", "-s", help="Step of the kernel (S)."),
    padding: str = typer.Option("valid", "--padding", "-p", help="valid (P=0) or same."),
    activation: str = typer.Option("linear", "--activation", "-a", help="linear or relu."),
    bias: float = typer.Option(None, "--bias", help="Bias added to every filter's output."),
    to_gray: bool = typer.Option(False, "--gray", help="Convert colour input to gray first."),
    range_mode: str = typer.Option(
        "clip", "--range", help="Values to pixels: clip, rescale, abs, or raw (.npy/.txt only)."
    ),
    sample: str = typer.Option(None, "--sample", help="Use a bundled sample image (astronaut…)."),
    json_: bool = typer.Option(False, "--json", help="One JSON object per output on stdout."),
    max_pixels: int = typer.Option(100_000_000, "--max-pixels", help="Refuse larger images."),
    keep_going: bool = typer.Option(
        False, "--keep-going", help="In a batch, continue past bad files and report them at the end."
    ),
    in_place: bool = typer.Option(False, "--in-place", help="Allow an output to replace its input."),
    workers: int = typer.Option(None, "--workers", "-j", help="Threads decoding and encoding (default: up to 4)."),
    png_level: int = typer.Option(1, "--png-level", help="zlib level for PNG outputs, 0-9 (same pixels)."),
) -> None:
    """Apply kernels with a single-layer Keras Conv2D (N kernels = one layer with N filters).

    Example:

    \b
        convcli filter examples/lecture-5x5.txt -k sharpen      # prints 266 -61 -30 ...
        convcli filter examples/lecture-5x5.txt -k sharpen --padding same
        convcli filter examples/x.txt -k x-cross -k x-diag --padding same --activation relu
        convcli filter examples/rgb-5x5x3.txt -k lecture-w0 -k lecture-w1 --stride 2 --padding same
        convcli filter --sample astronaut -k edges --gray -o edges.png
        convcli filter photos/*.jpg -k sobel-x -k sobel-y --out-dir out/ --range abs
    """
    from .filtering import filter_images
    from .textformat import format_matrix

    sources = list(inputs or [])
    if sample:
        sources.append(f"sample:{sample}")
    if output == "-" and json_:
        raise ConvcliError("--json and -o - both want stdout: write the image to a file")
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
    )
    for record in result.records:
        if json_:
            _print_json(record.as_json(with_values=record.output is None))
        elif record.output is None:
            sys.stdout.write(format_matrix(record.array))
        elif record.output == "-":
            _write_png_stdout(record.array)
    for failure in result.failures:
        _stderr(f"Error: {failure.message}")
    if result.failures:
        _stderr(f"{len(result.failures)} of {len(sources)} inputs failed")
        raise typer.Exit(EXIT_FAILURE)
