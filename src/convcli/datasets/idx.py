"""MNIST-family datasets: find the files, read and validate IDX (gzip or raw) or Keras's .npz; any
other IDX set (EMNIST letters, …) from a folder, its classes from the labels. Where a dataset is
looked for, in order: the ``data_dir`` argument (``--data-dir``), the ``CONVCLI_DATA_DIR``
environment variable (each a folder holding the files, or holding one folder per dataset name),
Keras's cache (``~/.keras/datasets``), ``/usr/share/datasets/<name>`` (Debian's dataset packages),
and last Keras's own downloader.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import input_error, work_error
from ..i18n import tr
from .wording import SPLITS, bad, check_arrays

if TYPE_CHECKING:
    import numpy as np

# numpy is imported inside the functions: the CLI reads DATASETS at start-up, and `convcli gray`
# must not pay numpy's import.

DATASETS = ("mnist", "fashion-mnist")
COLORS = ("gray", "rgb")  # how the pictures of an image folder are read
CLASS_NAMES: dict[str, list[str]] = {
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
}
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
NPZ_NAMES = {"mnist": "mnist.npz", "fashion-mnist": "fashion-mnist.npz"}
MAX_IDX_BYTES = 512 * 1024 * 1024
"""Decompressed IDX files larger than this are refused (a gzip bomb guard)."""
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass
class Dataset:
    """Train and test arrays and where they came from: images uint8, (N, H, W) for gray sets
    read from IDX (MNIST's 28×28) or (N, H, W, C) for image folders; labels (N,) numbering
    ``class_names``.

    ``names`` overrides the built-in datasets' class names; ``preparation`` says how a user's
    picture becomes an input (``digit``: MNIST-style, ``resize``: as the folder's pictures were);
    ``details`` is what the run record says about the data (layout, test files, skipped files).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    names: list[str] | None = None
    color: str = "gray"
    preparation: str = "digit"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def class_names(self) -> list[str]:
        """Human names of the classes, in label order."""
        if self.names is not None:
            return list(self.names)
        return CLASS_NAMES.get(self.name, [str(i) for i in range(10)])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one image as the model takes it."""
        shape = self.x_train.shape if len(self.x_train) else self.x_test.shape
        return int(shape[1]), int(shape[2]), int(shape[3]) if len(shape) == 4 else 1


def parse_idx(data: bytes, source: str = "<idx>") -> np.ndarray:
    """Parse an IDX file's bytes, validating the magic number, dimensions and size."""
    import numpy as np

    if len(data) < 4:
        raise bad(tr("{source}: truncated IDX file ({size} bytes, no header)"), source=source, size=len(data))
    if data[0] != 0 or data[1] != 0:
        raise bad(tr("{source}: not an IDX file (bad magic number {magic})"), source=source, magic=data[:4].hex())
    dtype = _IDX_TYPES.get(data[2])
    if dtype is None:
        raise bad(tr("{source}: IDX type code 0x{code:02x} is not valid"), source=source, code=data[2])
    ndim = data[3]
    if ndim < 1 or ndim > 4:
        raise bad(tr("{source}: IDX file claims {ndim} dimensions (expected 1 to 4)"), source=source, ndim=ndim)
    header = 4 + 4 * ndim
    if len(data) < header:
        raise bad(tr("{source}: truncated IDX header"), source=source)
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if 0 in dims:
        shape = "×".join(map(str, dims))
        raise bad(tr("{source}: IDX file has an empty dimension ({shape})"), source=source, shape=shape)
    itemsize = np.dtype(dtype).itemsize
    expected = itemsize
    for d in dims:
        expected *= d
    actual = len(data) - header
    if expected != actual:
        shape = "×".join(map(str, dims))
        what = tr("truncated") if actual < expected else tr("has trailing bytes")
        message = tr("{source}: IDX file {what}: header says {shape} ({expected:,} bytes of data), file has {actual:,}")
        raise bad(message, source=source, what=what, shape=shape, expected=expected, actual=actual)
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array


def _read_maybe_gzip(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise work_error(tr("{path}: cannot read ({reason})").format(path=path, reason=exc.strerror or exc)) from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as handle:
            data = handle.read(MAX_IDX_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise bad(tr("{path}: corrupted or truncated gzip file ({detail})"), path=path, detail=exc) from None
    if len(data) > MAX_IDX_BYTES:
        raise bad(tr("{path}: decompresses to more than {limit:,} bytes"), path=path, limit=MAX_IDX_BYTES)
    return data


def _find_idx(folder: Path, base: str) -> Path | None:
    for name in (base, base.replace("-idx", ".idx")):
        for suffix in (".gz", ""):
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _validate(name: str, arrays: dict[str, np.ndarray], source: str) -> Dataset:
    import numpy as np

    check_arrays(arrays, source, (28, 28))
    for split in ("train", "test"):
        y = arrays[f"y_{split}"]
        if y.size and (int(y.min()) < 0 or int(y.max()) > 9):
            message = tr("{source}: {split} labels outside 0–9 (found {low}–{high})")
            raise bad(message, source=source, split=tr(SPLITS[split]), low=int(y.min()), high=int(y.max()))
    return Dataset(
        name=name,
        x_train=arrays["x_train"],
        y_train=arrays["y_train"].astype(np.uint8),
        x_test=arrays["x_test"],
        y_test=arrays["y_test"].astype(np.uint8),
        source=source,
    )


def load_idx_folder(folder: str | os.PathLike[str], name: str = "mnist") -> Dataset:
    """Load the four IDX files (gzip or raw) from ``folder``."""
    path = Path(folder)
    arrays = {}
    for key, base in IDX_FILES.items():
        found = _find_idx(path, base)
        if found is None:
            raise bad(tr("{path}: missing {name}"), path=path, name=f"{base}.gz")
        arrays[key] = parse_idx(_read_maybe_gzip(found), str(found))
    return _validate(name, arrays, str(path))


_IDX_NAME = re.compile(
    r"^(?P<prefix>.*?)(?P<split>train|t10k|test)-(?P<kind>images|labels)[-.]idx[13]-ubyte(\.gz)?$", re.IGNORECASE
)
"""MNIST's file names and EMNIST's (``emnist-letters-train-images-idx3-ubyte.gz``): any prefix,
``t10k`` or ``test`` for the test set."""


def idx_set_files(folder: str | os.PathLike[str]) -> dict[str, Path] | None:
    """The four IDX files of the one set in ``folder`` (keys x_train, y_train, x_test, y_test),
    or None when it holds no IDX file or is no folder (the caller's own check names it); an
    incomplete set or several sets is an error."""
    path = Path(folder)
    found: dict[str, dict[str, Path]] = {}
    for entry in sorted(path.iterdir()) if path.is_dir() else []:
        match = _IDX_NAME.match(entry.name)
        if match and entry.is_file():
            split = "train" if match["split"].lower() == "train" else "test"
            role = ("x_" if match["kind"].lower() == "images" else "y_") + split
            found.setdefault(match["prefix"], {})[role] = entry
    if not found:
        return None
    complete = {prefix: roles for prefix, roles in found.items() if len(roles) == 4}
    if not complete:
        prefix, roles = next(iter(found.items()))
        missing = ", ".join(f"{prefix}{IDX_FILES[k]}" for k in IDX_FILES if k not in roles)
        raise bad(tr("{path}: an incomplete IDX set (missing {missing})"), path=path, missing=missing)
    if len(complete) > 1:
        message = tr("{path}: holds {count} IDX sets ({names}); keep one set per folder")
        raise bad(message, path=path, count=len(complete), names=", ".join(complete))
    return next(iter(complete.values()))


def _mapping_names(folder: Path, labels: list[int]) -> list[str] | None:
    """Class names from EMNIST's ``*mapping.txt`` (lines ``label code [code…]``, the first code
    a character), or None when there is no such file or it does not name every label."""
    files = sorted(folder.glob("*mapping.txt"))
    if len(files) != 1:
        return None
    names: dict[int, str] = {}
    try:
        for line in files[0].read_text(encoding="ascii").splitlines():
            parts = line.split()
            if len(parts) >= 2:
                names[int(parts[0])] = chr(int(parts[1]))
    except (OSError, UnicodeDecodeError, ValueError, OverflowError):
        return None
    return [names[label] for label in labels] if all(label in names for label in labels) else None


def load_idx_set(folder: str | os.PathLike[str]) -> Dataset:
    """Any IDX image set in ``folder`` (EMNIST letters or digits, MNIST, …), images of any size.

    The classes are the distinct labels of the train and test sets, numbered in order (EMNIST
    letters' labels 1…26 become classes 0…25); their names come from a ``*mapping.txt`` beside
    the files (EMNIST's) or are the label values. EMNIST stores each image transposed (files
    named ``emnist-…``): those are turned back, so letters stand upright as in MNIST.
    """
    import numpy as np

    path = Path(folder)
    files = idx_set_files(path)
    if files is None:
        raise bad(tr("{path}: no IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, …)"), path=path)
    arrays = {key: parse_idx(_read_maybe_gzip(found), str(found)) for key, found in files.items()}
    check_arrays(arrays, str(path), None)
    if any(arrays[k].dtype.kind not in "iu" for k in ("y_train", "y_test")):
        raise bad(tr("{path}: the labels must be whole numbers"), path=path)
    if files["x_train"].name.lower().startswith("emnist"):
        for key in ("x_train", "x_test"):
            arrays[key] = np.ascontiguousarray(arrays[key].transpose(0, 2, 1))
    labels = np.unique(np.concatenate([arrays["y_train"], arrays["y_test"]]))
    if len(labels) < 2:
        message = tr("{path}: every image has label {label}; a classifier needs two classes or more")
        raise bad(message, path=path, label=int(labels[0]))
    values = [int(v) for v in labels]
    return Dataset(
        name=f"idx:{path.resolve().name}",
        x_train=arrays["x_train"],
        y_train=np.searchsorted(labels, arrays["y_train"]).astype(np.int32),
        x_test=arrays["x_test"],
        y_test=np.searchsorted(labels, arrays["y_test"]).astype(np.int32),
        source=str(path),
        names=_mapping_names(path, values) or [str(v) for v in values],
        preparation="digit" if arrays["x_train"].shape[1:] == (28, 28) else "resize",
        details={"kind": "idx", "folder": str(path.resolve()), "labels": values},
    )


def load_npz(path: str | os.PathLike[str], name: str = "mnist") -> Dataset:
    """Load Keras's ``mnist.npz`` layout (x_train, y_train, x_test, y_test)."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in IDX_FILES if k not in data.files]
            if missing:
                raise bad(tr("{path}: .npz lacks {keys}"), path=path, keys=", ".join(missing))
            arrays = {k: np.asarray(data[k]) for k in IDX_FILES}
    except (ValueError, OSError, EOFError, zlib.error, KeyError) as exc:
        raise bad(tr("{path}: not a valid .npz dataset ({detail})"), path=path, detail=exc) from None
    return _validate(name, arrays, str(path))


def candidate_folders(name: str, data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for ``name``, in order (see the module docstring)."""
    folders: list[Path] = []
    for base in (data_dir, os.environ.get("CONVCLI_DATA_DIR")):
        if base:
            folders += [Path(base) / name, Path(base)]
    keras_home = _keras_datasets_folder()
    folders += [keras_home / name, keras_home]
    folders.append(Path("/usr/share/datasets") / name)
    return folders


def find_dataset(name: str, data_dir: str | os.PathLike[str] | None = None) -> tuple[str, Path] | None:
    """Where ``name`` is: ("idx", folder) or ("npz", file), or None when not on disk."""
    if data_dir is not None and not Path(data_dir).is_dir():
        raise input_error(tr("{path}: no such data folder").format(path=data_dir))
    for folder in candidate_folders(name, data_dir):
        if not folder.is_dir():
            continue
        if _find_idx(folder, IDX_FILES["y_test"]) is not None:
            return "idx", folder
        npz = folder / NPZ_NAMES[name]
        if npz.is_file():
            return "npz", npz
    return None


def load_dataset(name: str = "mnist", data_dir: str | os.PathLike[str] | None = None) -> Dataset:
    """Load ``mnist`` or ``fashion-mnist`` from the first place that has it (see module doc).

    Files that are the other dataset's canonical ones (known by SHA-256) give a
    :class:`~convcli.errors.ConvcliWarning` naming both.
    """
    if name not in DATASETS:
        from ..suggest import did_you_mean

        message = tr("unknown dataset {name}{suggestion}; use mnist or fashion-mnist")
        raise input_error(message.format(name=repr(name), suggestion=did_you_mean(name, DATASETS)))
    found = find_dataset(name, data_dir)
    if found is None:
        return _download(name, data_dir)
    kind, where = found
    data = load_idx_folder(where, name) if kind == "idx" else load_npz(where, name)
    from .canonical import warn_if_foreign

    warn_if_foreign(data)  # e.g. Fashion-MNIST's files in a folder given for mnist
    return data


def _download(name: str, data_dir: str | os.PathLike[str] | None) -> Dataset:
    """Last resort: Keras's own downloader; offline, one clear error saying where to put files.
    Keras's download notices (``print``) go to stderr; a failed download's empty cache folder goes."""
    hint = tr(
        "{name} not found: put the four IDX files (train-images-idx3-ubyte.gz, …) or {npz} in a folder "
        "and pass it as data_dir=DIR or set CONVCLI_DATA_DIR (searched: {searched})"
    ).format(name=name, npz=NPZ_NAMES[name], searched=", ".join(str(p) for p in candidate_folders(name, data_dir)))
    if os.environ.get("CONVCLI_NO_DOWNLOAD"):
        raise input_error(hint)
    cache = _keras_datasets_folder()
    created = [folder for folder in (cache, cache / name) if not folder.exists()]
    try:
        from ..backend import keras

        k = keras()
        loader = k.datasets.mnist if name == "mnist" else k.datasets.fashion_mnist
        with contextlib.redirect_stdout(sys.stderr):
            (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception:
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        raise input_error(hint) from None
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    return _validate(name, arrays, "keras download")


def _keras_datasets_folder() -> Path:
    """Keras's download cache (``$KERAS_HOME/datasets``, by default ``~/.keras/datasets``)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def scale_images(x: np.ndarray, input_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """uint8 images, (N, H, W) or (N, H, W, C), to the model's input: float32 in [0, 1], shaped
    ``(N, *input_shape)`` (by default the images' own, with a channel axis for gray ones)."""
    import numpy as np

    arr = np.asarray(x, dtype=np.float32) / 255.0
    if input_shape is None:
        input_shape = (*arr.shape[1:3], arr.shape[3] if arr.ndim == 4 else 1)
    if int(np.prod(arr.shape[1:])) != int(np.prod(input_shape)):
        have = "×".join(str(d) for d in arr.shape[1:]) + ("×1" if arr.ndim == 3 else "")
        message = tr("the model takes {shape} inputs, not the {have} images given")
        raise bad(message, shape="×".join(map(str, input_shape)), have=have)
    return arr.reshape((len(arr), *input_shape))
