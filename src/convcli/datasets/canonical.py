"""The canonical MNIST and Fashion-MNIST files, known by their SHA-256, to tell one from the other.

Both datasets have the same four file names, shapes and label range, so a folder holding one
where the other was asked for loads without complaint and gives nonsense (a Fashion-MNIST model
scores about 14% on MNIST). The checksums are of the uncompressed IDX files, header included:
``gunzip -c t10k-labels-idx1-ubyte.gz | sha256sum`` prints them. An array read from a ``.npz``
hashes the same once its IDX header is put back, so every source is checked alike (about 25 ms
for all four arrays).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ..errors import warn
from ..i18n import ngettext, tr

if TYPE_CHECKING:
    import numpy as np

CANONICAL_SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "x_train": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "y_train": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "x_test": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "y_test": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "x_train": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "y_train": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "x_test": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "y_test": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
"""SHA-256 of each uncompressed IDX file (train-images, train-labels, t10k-images, t10k-labels)."""

DISPLAY_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
FILE_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def idx_sha256(array: np.ndarray) -> str:
    """SHA-256 of ``array`` written as an unsigned-byte IDX file (the MNIST format)."""
    import numpy as np

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    digest = hashlib.sha256(header)
    digest.update(np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def canonical_origin(data: Any) -> dict[str, str]:
    """For each of a :class:`~convcli.datasets.idx.Dataset`'s four arrays that is a canonical file,
    the dataset it belongs to."""
    known = {sha: name for name, files in CANONICAL_SHA256.items() for sha in files.values()}
    found = {}
    for key in FILE_NAMES:
        origin = known.get(idx_sha256(getattr(data, key)))
        if origin is not None:
            found[key] = origin
    return found


def foreign_files_message(data: Any) -> str | None:
    """A message when files loaded as ``data.name`` are another dataset's canonical files."""
    foreign = {key: origin for key, origin in canonical_origin(data).items() if origin != data.name}
    if not foreign:
        return None
    others = tr(" and ").join(DISPLAY_NAMES[o] for o in sorted(set(foreign.values())))
    fields = {"source": data.source, "asked": DISPLAY_NAMES.get(data.name, data.name), "others": others}
    if len(foreign) == len(FILE_NAMES):
        message = tr(
            "{source}: asked for {asked}, but its four files are {others}'s (their SHA-256 says so): "
            "results will not mean what they say"
        )
        return message.format(**fields)
    message = ngettext(
        "{source}: asked for {asked}, but {files} is {others}'s (their SHA-256 says so): "
        "results will not mean what they say",
        "{source}: asked for {asked}, but {files} are {others}'s (their SHA-256 says so): "
        "results will not mean what they say",
        len(foreign),
    )
    return message.format(files=", ".join(FILE_NAMES[key] for key in foreign), **fields)


def warn_if_foreign(data: Any) -> None:
    """Warn (:class:`~convcli.errors.ConvcliWarning`) when ``data`` holds another dataset's files."""
    message = foreign_files_message(data)
    if message is not None:
        warn(message)
