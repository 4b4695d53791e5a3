"""Folders of pictures as datasets: one sub-folder per class (its name is the class name), or
``train/`` and ``test/`` folders each laid out so; any IDX set given the same way.

Every picture is decoded once, with Pillow, into one uint8 array that training then batches
exactly as it batches MNIST's IDX arrays. Written by hand rather than read with
``keras.utils.image_dataset_from_directory``: that decodes again every epoch unless cached,
stops at the first unreadable file instead of skipping it, and cannot tell the pictures' own
size or colour beforehand. Measured (benchmarks/folders.py, 70,000 MNIST PNGs, 2 shared cores):
see benchmarks/results/folders.json. Pictures are resized with Pillow's bilinear filter
(antialiased when shrinking), the same function for training and for ``predict``.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .datasets import Dataset, idx_set_files, load_idx_set
from .errors import ConvcliError, input_error
from .images import DEFAULT_MAX_PIXELS, check_pixels

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from .modelmeta import ModelMeta

COLORS = ("gray", "rgb")
MAX_SIDE = 4096
"""The largest image side a model may take (a 4096×4096 RGB input is 50 MB per picture)."""
_ORIENTED = ("JPEG", "MPO", "TIFF", "WEBP")
"""Formats whose EXIF orientation is read from the header (phone photos): they are turned upright."""
_GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")

Warn = Callable[[str], None]


@dataclass(frozen=True)
class FolderOptions:
    """How to read a folder of pictures: ``image_size`` (H, W) to resize to (default: the
    pictures' own, when they all agree), ``color`` gray or rgb (default: rgb if any picture has
    colour), the fraction held out for testing when there is no ``test/`` folder (seeded, per
    class), and ``strict``: an unreadable file is an error rather than skipped."""

    image_size: tuple[int, int] | None = None
    color: str | None = None
    test_split: float = 0.2
    seed: int = 0
    strict: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS


def parse_image_size(text: str) -> tuple[int, int]:
    """``H`` (square) or ``HxW`` as (H, W); each side 1 … :data:`MAX_SIDE`."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[x×X,]\s*(\d+))?\s*", text)
    if not match:
        raise input_error(f"image_size must be H or HxW (such as 64 or 48x64), got {text!r}")
    height = int(match[1])
    width = int(match[2]) if match[2] else height
    check_image_size((height, width))
    return height, width


def check_image_size(size: Any) -> None:
    """Raise unless ``size`` is two sides of 1 … :data:`MAX_SIDE` pixels."""
    if len(size) != 2 or not all(isinstance(v, int) and 1 <= v <= MAX_SIDE for v in size):
        raise input_error(f"image_size must be two sides of 1 to {MAX_SIDE} pixels, got {size!r}")


# --------------------------------------------------------------------------- listing


@dataclass
class Listing:
    """A folder's labelled files: class names, the training files and the ``test/`` files
    (None without a ``test/`` folder), as (path, label) pairs in a fixed order."""

    root: Path
    class_names: list[str]
    train: list[tuple[Path, int]]
    test: list[tuple[Path, int]] | None
    ignored: list[Path]


def _visible(path: Path, base: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(base).parts)


def _class_files(folder: Path, known: list[str] | None) -> tuple[list[str], list[tuple[Path, int]], list[Path]]:
    """Class names (sorted sub-folder names, or ``known``), each class's files (sub-folders
    included, hidden ones left out) and the files lying beside the class folders."""
    entries = sorted(p for p in folder.iterdir() if _visible(p, folder))
    folders = [p for p in entries if p.is_dir()]
    if not folders:
        raise input_error(f"{folder}: no class folders (put each class's pictures in a sub-folder named after it)")
    names = known if known is not None else [p.name for p in folders]
    for p in folders:
        if p.name not in names:
            raise input_error(f"{p}: the model has no class {p.name!r} (its classes: {', '.join(names)})")
    files = [
        (path, names.index(cls.name))
        for cls in folders
        for path in sorted(cls.rglob("*"))
        if path.is_file() and _visible(path, cls)
    ]
    return names, files, [p for p in entries if p.is_file()]


def list_folder(root: str | os.PathLike[str], known: list[str] | None = None) -> Listing:
    """The labelled files of ``root``: ``train/`` and ``test/`` folders when it has both, else one
    folder per class. ``known``: the class names a model was trained on (an unknown folder is an
    error naming it)."""
    path = Path(root)
    if not path.is_dir():
        raise input_error(f"{path}: no such folder")
    split = {p.name: p for p in path.iterdir() if p.is_dir() and p.name in ("train", "test")}
    if len(split) == 2:
        names, train, ignored = _class_files(split["train"], known)
        _, test, more = _class_files(split["test"], names)
        ignored += more
    else:
        names, train, ignored = _class_files(path, known)
        test = None
    if len(names) < 2:
        raise input_error(f"{path}: only one class ({names[0]!r}); a classifier needs two classes or more")
    return Listing(path, names, train, test, ignored)


# --------------------------------------------------------------------------- pictures


def _upright(image: PILImage.Image) -> PILImage.Image:
    """A photo turned as its EXIF orientation says (formats that carry it in the header)."""
    if image.format not in _ORIENTED:
        return image
    from PIL import ImageOps

    return ImageOps.exif_transpose(image) or image


def _has_colour(image: PILImage.Image) -> bool:
    """Whether a picture is in colour: by its mode, and for a palette by whether any entry has colour."""
    if image.mode in _GRAY_MODES:
        return False
    if image.mode in ("P", "PA"):
        palette = np.asarray(image.getpalette() or [], dtype=np.int32)
        rgb = palette[: len(palette) // 3 * 3].reshape(-1, 3)
        return bool(np.any(rgb != rgb[:, :1]))
    return True


def picture_pixels(image: PILImage.Image, size: tuple[int, int] | None, color: str) -> np.ndarray:
    """A decoded picture as the model's uint8 (H, W, C) input: upright, gray (Pillow's
    L = 0.299 R + 0.587 G + 0.114 B) or RGB (alpha dropped), resized bilinearly to ``size``.

    The one preparation for training pictures and for ``predict``'s, so both see the same pixels.
    """
    from PIL import Image

    image = _upright(image)
    if image.mode.startswith("I") or image.mode == "F":  # 16-bit and float: scaled as everywhere else
        from .images import image_to_array

        gray = image_to_array(image, "image")
        image = Image.fromarray(np.clip(np.rint(gray), 0, 255).astype(np.uint8))
    image = image.convert("L" if color == "gray" else "RGB")
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def read_picture(path: str, size: tuple[int, int], color: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A picture file (or ``-``) prepared as a model trained on a folder saw its pictures."""
    from .images import open_image, read_bytes

    return picture_pixels(open_image(read_bytes(path), path, max_pixels=max_pixels), size, color)


def _problem(path: Path, exc: Exception) -> ConvcliError:
    if isinstance(exc, ConvcliError):
        return exc
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return input_error(f"{path}: not an image file (or a format Pillow cannot read)")
    return input_error(f"{path}: damaged image ({type(exc).__name__}: {str(exc)[:120]})")


def _probe(path: Path, max_pixels: int) -> tuple[tuple[int, int], bool]:
    """(height, width) as displayed, and whether it has colour, from the file's header alone."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
            check_pixels(str(path), width, height, max_pixels)
            if image.format in _ORIENTED and image.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                width, height = height, width
            return (height, width), _has_colour(image)
    except Exception as exc:  # Pillow raises many kinds on hostile files: each becomes one message
        raise _problem(path, exc) from None


def _decode(path: Path, size: tuple[int, int], color: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            return picture_pixels(image, size, color)
    except Exception as exc:
        raise _problem(path, exc) from None


class _Skipper:
    """Files that are not readable pictures: one warning each and a count, or (strict) an error."""

    def __init__(self, strict: bool, warn: Warn | None) -> None:
        self.strict, self.warn, self.skipped = strict, warn or (lambda message: None), []

    def __call__(self, error: ConvcliError) -> None:
        if self.strict:
            raise input_error(f"{error.message} (strict: every file must be a readable picture)")
        self.skipped.append(error.message)
        self.warn(f"skipped {error.message}")


def _choose_size(probes: dict[Path, tuple[tuple[int, int], bool]], root: Path) -> tuple[int, int]:
    sizes = Counter(size for size, _ in probes.values())
    if not sizes:
        raise input_error(f"{root}: no readable pictures")
    if len(sizes) > 1:
        listed = ", ".join(f"{h}×{w} ({n:,} files)" for (h, w), n in sizes.most_common(3))
        raise input_error(
            f"{root}: the pictures have {len(sizes)} different sizes ({listed}{', …' if len(sizes) > 3 else ''}); "
            "choose one with image_size (H or HxW): every picture is resized to it"
        )
    return next(iter(sizes))


def read_pictures(
    files: list[tuple[Path, int]], root: Path, options: FolderOptions, skip: _Skipper, color: str | None = None
) -> tuple[np.ndarray, np.ndarray, list[Path], str]:
    """Decode ``files`` once into (N, H, W, C) uint8 and their labels; returns the files kept and the colour."""
    probes: dict[Path, tuple[tuple[int, int], bool]] = {}
    for path, _ in files:
        try:
            probes[path] = _probe(path, options.max_pixels)
        except ConvcliError as error:
            skip(error)
    size = options.image_size or _choose_size(probes, root)
    color = color or options.color or ("rgb" if any(c for _, c in probes.values()) else "gray")
    x = np.empty((len(probes), size[0], size[1], 1 if color == "gray" else 3), dtype=np.uint8)
    labels, kept = [], []
    for path, label in files:
        if path in probes:
            try:
                x[len(kept)] = _decode(path, size, color)
            except ConvcliError as error:
                skip(error)
                continue
            labels.append(label)
            kept.append(path)
    return x[: len(kept)], np.asarray(labels, dtype=np.int32), kept, color


# --------------------------------------------------------------------------- datasets


def _check_counts(listing: Listing, labels: np.ndarray) -> None:
    counts = np.bincount(labels, minlength=len(listing.class_names))
    for name, count in zip(listing.class_names, counts):
        if count < 2:
            raise input_error(
                f"{listing.root}: class {name!r} has {count} usable picture(s); each class needs at least 2 "
                "(one to train on, one to test)"
            )


def split_by_class(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and test items: in each class a seeded ``fraction`` (at least one,
    never all) is held out, so every class is both trained on and tested."""
    rng = np.random.default_rng(seed)
    test: list[int] = []
    for label in range(int(labels.max()) + 1):
        members = np.nonzero(labels == label)[0]
        if len(members):
            count = min(max(1, round(len(members) * fraction)), len(members) - 1)
            test += rng.permutation(members)[:count].tolist()
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test] = True
    return np.nonzero(~is_test)[0], np.nonzero(is_test)[0]


def load_image_folder(
    root: str | os.PathLike[str], options: FolderOptions = FolderOptions(), warn: Warn | None = None
) -> Dataset:
    """The pictures of ``root`` as a dataset (see :func:`list_folder` for the layouts): decoded
    once, resized to one size, the test set its ``test/`` folder or a seeded split by class."""
    started = time.perf_counter()
    listing = list_folder(root)
    skip = _Skipper(options.strict, warn)
    everything = listing.train + (listing.test or [])
    x, y, kept, color = read_pictures(everything, listing.root, options, skip)
    _check_counts(listing, y)
    if listing.test is not None:
        in_test = {path for path, _ in listing.test}
        is_test = np.array([path in in_test for path in kept], dtype=bool)
        train_idx, test_idx = np.nonzero(~is_test)[0], np.nonzero(is_test)[0]
    else:
        train_idx, test_idx = split_by_class(y, options.test_split, options.seed)
    if skip.skipped and warn is not None:
        warn(f"skipped {len(skip.skipped)} of {len(everything)} files: not readable pictures (strict refuses them)")
    details: dict[str, Any] = {
        "kind": "folder",
        "folder": str(listing.root.resolve()),
        "layout": "train/test" if listing.test is not None else "class folders",
        "image_size": [int(x.shape[1]), int(x.shape[2])],
        "color": color,
        "decode_seconds": round(time.perf_counter() - started, 3),
        "skipped": skip.skipped,
    }
    if listing.test is None:
        details["test_split"] = options.test_split
        details["test_files"] = [kept[i].relative_to(listing.root).as_posix() for i in test_idx]
    return Dataset(
        f"folder:{listing.root.resolve().name}",
        x[train_idx],
        y[train_idx],
        x[test_idx],
        y[test_idx],
        str(listing.root),
        names=listing.class_names,
        color=color,
        preparation="resize",
        details=details,
    )


def load_data_folder(
    folder: str | os.PathLike[str], options: FolderOptions = FolderOptions(), warn: Warn | None = None
) -> Dataset:
    """The dataset in ``folder``: its IDX set when it holds one, else its pictures."""
    if not Path(folder).is_dir():
        raise input_error(f"{folder}: no such data folder")
    if idx_set_files(folder) is None:
        return load_image_folder(folder, options, warn)
    if options.image_size is not None or options.color is not None:
        raise input_error(f"{folder}: image_size and color apply to folders of pictures, not to an IDX set")
    return load_idx_set(folder)


def load_test_folder(
    folder: str | os.PathLike[str], meta: ModelMeta, record: dict[str, Any] | None = None, warn: Warn | None = None
) -> tuple[Dataset, str]:
    """The labelled pictures to evaluate a folder-trained model on, and what they are.

    ``folder``'s ``test/`` pictures when it has that layout; the run's own test split when it is
    the folder the model was trained on (``record``: the run record's ``data``, which names the
    test files); else every picture in it. Pictures are prepared as in training; the class
    folders must be classes of the model.
    """
    root = Path(folder)
    if idx_set_files(root) is not None:
        data = load_idx_set(root)
        unknown = [n for n in data.class_names if n not in meta.class_names]
        if unknown:
            raise input_error(
                f"{root}: the model has no class {unknown[0]!r} (its classes: {', '.join(meta.class_names)})"
            )
        lookup = np.array([meta.class_names.index(n) for n in data.class_names])
        return Dataset(
            data.name, data.x_train[:0], data.y_train[:0], data.x_test, lookup[data.y_test], data.source
        ), "the IDX test set"
    listing = list_folder(root, meta.class_names)
    files, what = listing.train, f"every picture in {root}"
    if listing.test is not None:
        files, what = listing.test, f"{root / 'test'}"
    elif record is not None and Path(record["folder"]) == root.resolve() and "test_files" in record:
        named = set(record["test_files"])
        files = [(p, label) for p, label in listing.train if p.relative_to(root).as_posix() in named]
        what = f"the run's own test split of {root} ({len(named):,} files named in its record)"
        if len(files) < len(named):
            raise input_error(f"{root}: {len(named) - len(files):,} of the run's test files are gone from the folder")
    options = FolderOptions(image_size=meta.input_shape[:2], color=meta.color)
    x, y, _, _ = read_pictures(files, root, options, _Skipper(False, warn), meta.color)
    return Dataset(f"folder:{root.resolve().name}", x[:0], y[:0], x, y, str(root), names=meta.class_names), what
