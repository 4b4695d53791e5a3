"""Options and arguments shared by several commands, declared once, and shell-completion sources.

Choices are Click choices, so ``--help`` lists them and a wrong value is a usage error (exit 2)
before any work. Each list is the library's own, imported from the numpy-free module that owns
it (``convcli gray`` must not pay for numpy), never written twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import click
import typer

from ..datasets.idx import DATASETS
from ..errors import input_error, warn
from ..i18n import tr as _
from ..imaging.color import GRAY_METHODS
from ..imaging.encoding import DEPTHS as DEPTH_BITS
from ..imaging.encoding import OUTPUT_FORMATS

DEPTHS = tuple(str(bits) for bits in DEPTH_BITS)
"""encoding.DEPTHS, as the command line spells them."""


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


def choice(*flags: str, choices: Sequence[str], help: str, case_sensitive: bool = True, **settings: Any) -> Any:
    """A ``typer.Option`` whose value is one of ``choices``: ``--help`` lists them, any other
    value is a usage error (exit 2) before any work. ``settings`` go to ``typer.Option`` as they are."""
    return typer.Option(*flags, click_type=click.Choice(choices, case_sensitive=case_sensitive), help=help, **settings)


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
    choice(
        "--depth",
        choices=DEPTHS,
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


Dataset = Annotated[str, choice("--dataset", choices=DATASETS, help="Which MNIST-family dataset.")]
ModelDataset = Annotated[
    str | None,
    choice(
        "--dataset",
        choices=DATASETS,
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
    choice(
        "--method",
        "-m",
        choices=GRAY_METHODS,
        help="luma: 0.3R+0.59G+0.11B (the lecture's); average: (R+G+B)/3; bt709: "
        "0.2125R+0.7154G+0.0721B (skimage); bt601: 0.299R+0.587G+0.114B (Rec. 601, as Pillow's L "
        "and OpenCV, rounded half up).",
    ),
]
ModelFile = Annotated[str, typer.Argument(metavar="MODEL.keras", help="A trained model file (loaded in safe mode).")]
Layers = Annotated[
    str | None,
    typer.Option(
        "--layers",
        "-l",
        help='Layer spec such as "conv(32,3),pool(2),flatten,dense(10)" or Keras calls as the lecture writes '
        "them (Conv2D(32, kernel_size=3, strides=(1,1)), MaxPooling2D(pool_size=(2,2)), …), or @FILE holding one.",
    ),
]
LayersFrom = Annotated[
    str | None,
    typer.Option(
        "--layers-from",
        metavar="FILE.py",
        help="Keras code pasted from the slides: model.add(Conv2D(...)) lines or Sequential([...]) "
        "(read, never run; input_shape=input_shape takes the data's shape, or --image-size's).",
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
    choice(
        "--format",
        choices=OUTPUT_FORMATS,
        case_sensitive=False,
        help="Output format with --out-dir: an image (png, jpg…), npy (raw float32) or a text matrix "
        "[default: png]. With -o it must agree with the file's suffix.",
    ),
]
TestIndex = Annotated[int | None, typer.Option("--index", "-i", min=0, help="Use test image N of --dataset.")]


# --------------------------------------------------------------------------- batches at scale

FilesFrom = Annotated[
    str | None,
    typer.Option(
        "--files-from",
        metavar="FILE",
        help="Also read inputs from FILE, one path a line (- for stdin): any number of files, no ARG_MAX limit.",
    ),
]
Null = Annotated[bool, typer.Option("--null", help="--files-from's paths are separated by NUL bytes (find -print0).")]
ShardOption = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="K/N|auto",
        help="Work on shard K of N (a stable hash of each path as given: N machines listing the same files "
        "split them). auto: from SLURM_ARRAY_TASK_ID/_MIN/_COUNT or JOB_COMPLETION_INDEX with "
        "CONVCLI_SHARD_COUNT.",
    ),
]
NoClobber = Annotated[
    bool,
    typer.Option(
        "--no-clobber",
        help="Refuse (exit 2, before any work, nothing written) when an output exists. Default: overwrite, as cp does.",
    ),
]
SkipExisting = Annotated[
    bool,
    typer.Option(
        "--skip-existing",
        help='Skip each input whose outputs all exist (--json: "skipped": true), so a killed run is rerun cheaply.',
    ),
]
KeepGoing = Annotated[
    bool,
    typer.Option(
        "--keep-going",
        help="In a batch, continue past bad or missing files (each reported as it fails; exit status 1 at the end).",
    ),
]
Workers = Annotated[
    int | None,
    typer.Option("--workers", "-j", min=1, max=64, help="Threads decoding and encoding (default: up to 4)."),
]
NameTemplate = Annotated[
    str | None,
    typer.Option(
        "--name",
        metavar="TEMPLATE",
        help="With --out-dir: output file names from {stem}, {ext} (input suffix), {kernel} (gray: gray; "
        "channels: the plane), {parent} (input's folder name), {index} (1, 2… in the whole list; {index:04d} "
        "pads); the suffix is the output format's. Default: {stem}-{kernel}.",
    ),
]
Parents = Annotated[
    bool,
    typer.Option(
        "--parents",
        help="With --out-dir: mirror each input's folder under it, like cp --parents "
        "(in/sub/a.png -> OUT/in/sub/a-KERNEL.png; inputs outside the current folder keep their absolute folder).",
    ),
]
OutDir = Annotated[str | None, typer.Option("--out-dir", "-d", help="Folder for batch outputs.")]


def existing_mode(no_clobber: bool, skip_existing: bool) -> str:
    """``--no-clobber`` / ``--skip-existing`` as the library's ``existing`` value."""
    if no_clobber and skip_existing:
        raise input_error(_("give --no-clobber or --skip-existing, not both"))
    return "refuse" if no_clobber else "skip" if skip_existing else "overwrite"


def batch_inputs(given: list[str] | None, files_from: str | None, null: bool, sample: str | None = None) -> list[str]:
    """The inputs on the command line, then those listed in ``--files-from``, then ``--sample``'s; an
    empty list and nothing else ends the command with a warning and status 0 (``tar -T``,
    ``rsync --files-from`` do the same), so ``find … | convcli … --files-from -`` finding nothing
    does not fail a script."""
    from ..batches.inputs import gather_inputs

    sources = gather_inputs(list(given or []), files_from, null=null)
    if files_from is not None and not sources and not sample:  # find found nothing: nothing to do, as tar -T
        warn(_("{name}: the list names no inputs; nothing to do").format(name=files_from))
        raise typer.Exit(0)
    return sources + ([f"sample:{sample}"] if sample else [])


def shard_option(text: str | None) -> Any:
    """``--shard``'s value as a :class:`~convcli.batches.inputs.Shard`, or None."""
    from ..batches.inputs import parse_shard

    return parse_shard(text) if text else None


def shard_size(sources: list[str], shard: Any) -> int:
    """How many of ``sources`` this shard works on (the batch's size for its summary line)."""
    from ..batches.inputs import select

    return len(select(sources, shard))


def check_dash_out_dir(out_dir: str | None, command: str) -> None:
    """``convcli filter -dash.png`` reads ``-d ash.png``: when the folder is missing and a file
    ``-d…`` exists, say so and show ``--``."""
    import os

    if out_dir and not os.path.exists(out_dir) and os.path.exists(f"-d{out_dir}"):
        message = _(
            "'-d{folder}' was read as --out-dir {quoted}: put -- before file names that start with '-' "
            "(convcli {command} ... -- -d{folder})"
        )
        raise input_error(message.format(folder=out_dir, quoted=repr(out_dir), command=command))
