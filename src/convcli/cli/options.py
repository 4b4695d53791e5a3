"""Options and arguments shared by several commands, declared once, and shell-completion sources.

Choices are Click choices, so ``--help`` lists them and a wrong value is a usage error (exit 2)
before any work. Where the library's own list lives in a module that imports numpy (which
``convcli gray`` must not pay for), the list is repeated here and tests/test_cli_help.py checks
that the two agree.
"""

from __future__ import annotations

from typing import Annotated

import click
import typer

from ..datasets.idx import DATASETS
from ..imaging.color import GRAY_METHODS
from ..imaging.encoding import OUTPUT_FORMATS

PADDINGS = ("valid", "same")
"""convolution.PADDINGS."""
ACTIVATIONS = ("linear", "relu")
"""convolution.ACTIVATIONS."""
BORDERS = ("zero", "reflect", "edge", "wrap", "symmetric")
"""convolution.BORDERS."""
DEPTHS = ("8", "16")
"""encoding.DEPTHS, as the command line spells them."""
RANGES = ("clip", "rescale", "abs", "raw")
"""images.to_uint8's modes, and raw (values kept: .npy and text outputs only)."""
SCHEDULES = ("constant", "cosine", "onecycle")
"""training.SCHEDULES."""
PRECISIONS = ("float32", "mixed")
"""backend.set_precision's values."""
"""inspection.weights_file's formats."""


# --------------------------------------------------------------------------- completion


def complete_kernels(incomplete: str) -> list[str]:
    """Named kernels starting with what was typed (files complete by the shell itself)."""
    from ..filtering.kernels import named_kernel_files

    return [name for name in named_kernel_files() if name.startswith(incomplete)]


def complete_samples(incomplete: str) -> list[str]:
    """skimage's bundled sample images starting with what was typed."""
    from ..imaging.samples import SAMPLES

    return [name for name in SAMPLES if name.startswith(incomplete)]


def complete_presets(incomplete: str) -> list[str]:
    """Model presets starting with what was typed."""
    from ..models.presets import PRESETS

    return [name for name in PRESETS if name.startswith(incomplete)]


# --------------------------------------------------------------------------- shared options

Json = Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout (one object per line).")]
MaxPixels = Annotated[
    int, typer.Option("--max-pixels", min=1, help="Refuse images with more pixels (checked before decoding).")
]
Sample = Annotated[
    str | None,
    typer.Option(
        "--sample",
        help="Use a bundled sample image instead (astronaut, camera, coffee…).",
        autocompletion=complete_samples,
    ),
]
InPlace = Annotated[bool, typer.Option("--in-place", help="Allow an output to replace its input.")]
Depth = Annotated[
    str | None,
    typer.Option(
        "--depth",
        click_type=click.Choice(DEPTHS),
        help="Bits a channel of image outputs (16: PNG/TIFF only). Default: the input's, so 16-bit PNG/TIFF "
        "inputs give 16-bit PNG/TIFF outputs; other formats hold 8.",
    ),
]


Quality = Annotated[
    int | None,
    typer.Option(
        "--quality",
        min=1,
        max=100,
        help="JPEG and WebP outputs: 1-100. Default: JPEG 95; WebP lossless (as is --quality 100: "
        "the pixels come back exactly); below 100 WebP is lossy.",
    ),
]


Frame = Annotated[
    int | None,
    typer.Option(
        "--frame",
        min=0,
        metavar="N",
        help="Frame N (0 = first) of an animated GIF, APNG or multi-page TIFF; without it such files "
        "are refused, never cut to one frame silently.",
    ),
]


def depth_bits(depth: str | None) -> int | None:
    """``--depth``'s value as bits, or None for the input's own depth."""
    return int(depth) if depth else None


Dataset = Annotated[
    str, typer.Option("--dataset", click_type=click.Choice(DATASETS), help="Which MNIST-family dataset.")
]
ModelDataset = Annotated[
    str | None,
    typer.Option(
        "--dataset",
        click_type=click.Choice(DATASETS),
        help="Which MNIST-family dataset (default: the one the model was trained on; another one is "
        "used with a warning).",
    ),
]
DataDir = Annotated[
    str | None,
    typer.Option(
        "--data-dir",
        help="Folder with the dataset's IDX files or .npz (default: $CONVCLI_DATA_DIR, ~/.keras/datasets, "
        "/usr/share/datasets).",
    ),
]
GrayMethod = Annotated[
    str,
    typer.Option(
        "--method",
        "-m",
        click_type=click.Choice(GRAY_METHODS),
        help="luma: 0.3R+0.59G+0.11B (the lecture's); average: (R+G+B)/3; bt709: "
        "0.2125R+0.7154G+0.0721B (skimage); bt601: 0.299R+0.587G+0.114B (Rec. 601, as Pillow's L "
        "and OpenCV, rounded half up).",
    ),
]
ModelFile = Annotated[str, typer.Argument(metavar="MODEL.keras", help="A trained model file (loaded in safe mode).")]
Layers = Annotated[
    str | None,
    typer.Option(
        "--layers", "-l", help='Layer spec such as "conv(32,3),pool(2),flatten,dense(10)", or @FILE holding one.'
    ),
]
DataFolder = Annotated[
    str | None,
    typer.Option(
        "--data",
        metavar="DIR",
        help="Your own images: a folder with one sub-folder of pictures per class (or train/ and test/ "
        "folders laid out so), or a folder holding an IDX set (EMNIST…).",
    ),
]
OutputFormat = Annotated[
    str | None,
    typer.Option(
        "--format",
        click_type=click.Choice(OUTPUT_FORMATS, case_sensitive=False),
        help="Output format with --out-dir: an image (png, jpg…), npy (raw float32) or a text matrix "
        "[default: png]. With -o it must agree with the file's suffix.",
    ),
]
COLORS = ("gray", "rgb")
"""imagefolders.COLORS."""
TestIndex = Annotated[int | None, typer.Option("--index", "-i", min=0, help="Use test image N of --dataset.")]
