"""Folders of pictures as datasets: one sub-folder per class (its name is the class name), or
``train/`` and ``test/`` folders each laid out so; any IDX set given the same way.

Every picture is opened once and decoded with Pillow into one uint8 array that training batches
exactly as it batches MNIST's IDX arrays. By hand rather than
``keras.utils.image_dataset_from_directory``, which stops at the first unreadable file instead of
skipping it, cannot tell the pictures' own size or colour, and decodes again every epoch unless
cached; its one pass is no faster (benchmarks/folders.py: 3.0 s for MNIST's 70,000 PNGs here,
2.8 s for its 60,000). Resizing is Pillow's bilinear filter (antialiased when shrinking), one
function for training and for ``predict``.
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

from ..errors import ConvcliError, input_error
from ..i18n import tr as _
from ..imaging.images import DEFAULT_MAX_PIXELS, check_pixels
from .idx import Dataset, idx_set_files, load_idx_set
from .wording import EVERY_PICTURE, IDX_TEST_SET, NO_CLASS, OWN_SPLIT, bad, class_index

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from ..models.metadata import ModelMeta

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
        raise bad(_("image_size must be H or HxW (such as 64 or 48x64), got {text!r}"), text=text)
    height = int(match[1])
    width = int(match[2]) if match[2] else height
    check_image_size((height, width))
    return height, width


def check_image_size(size: Any) -> None:
    """Raise unless ``size`` is two sides of 1 … :data:`MAX_SIDE` pixels."""
    if len(size) != 2 or not all(isinstance(v, int) and 1 <= v <= MAX_SIDE for v in size):
        raise bad(_("image_size must be two sides of 1 to {most} pixels, got {size!r}"), most=MAX_SIDE, size=size)


# --------------------------------------------------------------------------- listing


@dataclass
class Listing:
    """A folder's labelled files: class names, the training files and the ``test/`` files
    (None without a ``test/`` folder), as (path, label) pairs in a fixed order. Paths are
    strings: a folder of 70,000 pictures lists in a fraction of the time ``pathlib`` takes."""

    root: Path
    class_names: list[str]
    train: list[tuple[str, int]]
    test: list[tuple[str, int]] | None


def _files_under(folder: str) -> list[str]:
    """Every file below ``folder``, sorted; hidden files and folders (``.DS_Store``) left out."""
    found: list[str] = []
    for top, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [os.path.join(top, name) for name in files if not name.startswith(".")]
    return sorted(found)


def _class_files(folder: Path, known: list[str] | None) -> tuple[list[str], list[tuple[str, int]]]:
    """Class names (sorted sub-folder names, or ``known``: a folder names a class or its number)
    and each class's files, sub-folders included; files lying beside the class folders belong to
    no class and are left out."""
    folders = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise bad(_("{path}: no class folders (put each class's pictures in a sub-folder named after it)"), path=folder)
    names = known if known is not None else folders
    labels = {name: class_index(name, names, folder / name) for name in folders}
    files = [(path, labels[name]) for name in folders for path in _files_under(str(folder / name))]
    return names, files


def list_folder(root: str | os.PathLike[str], known: list[str] | None = None) -> Listing:
    """The labelled files of ``root``: ``train/`` and ``test/`` folders when it has both, else one
    folder per class. ``known``: the class names a model was trained on (an unknown folder is an
    error naming it)."""
    path = Path(root)
    if not path.is_dir():
        raise bad(_("{path}: no such folder"), path=path)
    if (path / "train").is_dir() and (path / "test").is_dir():
        names, train = _class_files(path / "train", known)
        test: list[tuple[str, int]] | None = _class_files(path / "test", names)[1]
    else:
        (names, train), test = _class_files(path, known), None
    if len(names) < 2:
        raise bad(
            _("{path}: only one class ({name!r}); a classifier needs two classes or more"), path=path, name=names[0]
        )
    return Listing(path, names, train, test)


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
        from ..imaging.images import image_to_array

        gray = image_to_array(image, "image")
        image = Image.fromarray(np.clip(np.rint(gray), 0, 255).astype(np.uint8))
    image = image.convert("L" if color == "gray" else "RGB")
    if size is not None:
        from ..imaging.images import bilinear

        image = bilinear(image, (size[1], size[0]))
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def _problem(path: str, exc: Exception) -> ConvcliError:
    if isinstance(exc, ConvcliError):
        return exc
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return input_error(_("{path}: not an image file (or a format Pillow cannot read)").format(path=path))
    return bad(_("{path}: damaged image ({kind}: {detail})"), path=path, kind=type(exc).__name__, detail=str(exc)[:120])


class _Skipper:
    """Files that are not readable pictures: one warning each and a count, or (strict) an error."""

    def __init__(self, strict: bool, warn: Warn | None) -> None:
        self.strict, self.warn, self.skipped = strict, warn or (lambda message: None), []

    def __call__(self, error: ConvcliError) -> None:
        if self.strict:
            raise bad(_("{problem} (strict=True: every file must be a readable picture)"), problem=error.message)
        self.skipped.append(error.message)
        self.warn(_("skipped {problem}").format(problem=error.message))


MAX_BYTES = 8 << 30  # the decoded pictures of one folder may take 8 GiB of memory


class _Stack:
    """The decoded pictures, in one uint8 (N, H, W, C) array allocated once; gray pictures gain
    three equal channels (as Pillow's L → RGB does) once a colour one arrives."""

    def __init__(self, capacity: int, root: Path) -> None:
        self.capacity, self.root, self.count = capacity, root, 0
        self.x: np.ndarray | None = None

    def add(self, pixels: np.ndarray) -> None:
        if self.x is None:
            height, width, channels = pixels.shape
            if self.capacity * height * width * 3 > MAX_BYTES:
                message = _(
                    "{path}: {count:,} pictures of {h}×{w} would take over {gib} GiB; choose a smaller image_size"
                )
                raise bad(message, path=self.root, count=self.capacity, h=height, w=width, gib=MAX_BYTES >> 30)
            self.x = np.empty((self.capacity, height, width, channels), dtype=np.uint8)
        if pixels.shape[2] < self.x.shape[3]:
            pixels = np.repeat(pixels, 3, axis=2)
        elif pixels.shape[2] > self.x.shape[3]:
            self.x = np.repeat(self.x, 3, axis=3)
        self.x[self.count] = pixels
        self.count += 1


def _size_error(sizes: Counter[tuple[int, int]], root: Path) -> ConvcliError:
    each = _("{height}×{width} ({count:,} files)")
    listed = ", ".join(each.format(height=h, width=w, count=n) for (h, w), n in sizes.most_common(3))
    message = _(
        "{path}: the pictures have {count} different sizes ({listed}); "
        "choose one with image_size (H or HxW): every picture is resized to it"
    )
    return bad(message, path=root, count=len(sizes), listed=listed + (", …" if len(sizes) > 3 else ""))


def read_pictures(
    files: list[tuple[str, int]], root: Path, options: FolderOptions, skip: _Skipper, color: str | None = None
) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """Decode ``files`` once, each opened once, into (N, H, W, C) uint8 and their labels; returns
    the files kept and the colour. Without ``image_size`` the first picture's size is the size,
    and a picture of another size makes the rest only counted, for the error listing them."""
    from PIL import Image

    color = color or options.color
    size, sizes = options.image_size, Counter[tuple[int, int]]()
    stack, labels, kept = _Stack(len(files), root), [], []
    for path, label in files:
        try:
            with Image.open(path) as image:
                own = (image.height, image.width)
                check_pixels(path, own[1], own[0], options.max_pixels)
                if image.format in _ORIENTED and image.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                    own = own[::-1]
                sizes[own] += 1
                if size is None and len(sizes) > 1:
                    continue  # the sizes disagree: only counting them now, for the error
                pixels = picture_pixels(image, size or own, color or ("rgb" if _has_colour(image) else "gray"))
        except Exception as exc:  # Pillow raises many kinds on hostile files: each becomes one message
            skip(_problem(path, exc))
            continue
        stack.add(pixels)
        labels.append(label)
        kept.append(path)
    if size is None and len(sizes) > 1:
        raise _size_error(sizes, root)
    if stack.x is None:
        raise bad(_("{path}: no readable pictures"), path=root)
    x = stack.x[: stack.count]
    return x, np.asarray(labels, dtype=np.int32), kept, "rgb" if x.shape[3] == 3 else "gray"


# --------------------------------------------------------------------------- datasets


def _check_counts(listing: Listing, labels: np.ndarray) -> None:
    counts = np.bincount(labels, minlength=len(listing.class_names))
    for name, count in zip(listing.class_names, counts):
        if count < 2:
            message = _(
                "{path}: class {name!r} has {count} usable picture(s); each class needs at least 2 "
                "(one to train on, one to test)"
            )
            raise bad(message, path=listing.root, name=name, count=count)


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
    # Files come class by class: a seeded shuffle, so that a limit or a validation split takes every class.
    train_idx = np.random.default_rng(options.seed).permutation(train_idx)
    if skip.skipped and warn is not None:
        message = _("skipped {count} of {total} files: not readable pictures (strict=True refuses them)")
        warn(message.format(count=len(skip.skipped), total=len(everything)))
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
        details["test_files"] = [Path(os.path.relpath(kept[i], listing.root)).as_posix() for i in test_idx]
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
        raise bad(_("{path}: no such data folder"), path=folder)
    if idx_set_files(folder) is None:
        return load_image_folder(folder, options, warn)
    if options.image_size is not None or options.color is not None:
        raise bad(_("{path}: image_size and color apply to folders of pictures, not to an IDX set"), path=folder)
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
            raise bad(_(NO_CLASS), path=root, name=unknown[0], classes=", ".join(meta.class_names))
        lookup = np.array([meta.class_names.index(n) for n in data.class_names])
        test = Dataset(data.name, data.x_train[:0], data.y_train[:0], data.x_test, lookup[data.y_test], data.source)
        test.names = meta.class_names
        return test, IDX_TEST_SET.format(root=root)
    listing = list_folder(root, meta.class_names)
    files, what = listing.train, EVERY_PICTURE.format(root=root)
    if listing.test is not None:
        files, what = listing.test, f"{root / 'test'}"
    elif record is not None and Path(record["folder"]) == root.resolve() and "test_files" in record:
        named = set(record["test_files"])
        files = [(p, label) for p, label in listing.train if Path(os.path.relpath(p, root)).as_posix() in named]
        what = OWN_SPLIT.format(root=root, count=len(named))
        if len(files) < len(named):
            message = _("{path}: {count:,} of the run's test files are gone from the folder")
            raise bad(message, path=root, count=len(named) - len(files))
    options = FolderOptions(image_size=meta.input_shape[:2], color=meta.color)
    x, y = read_pictures(files, root, options, _Skipper(False, warn), meta.color)[:2]
    return Dataset(f"folder:{root.resolve().name}", x[:0], y[:0], x, y, str(root), names=meta.class_names), what
