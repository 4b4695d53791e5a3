"""What the dataset modules say: :func:`bad` makes an input error of a translated message,
:func:`check_arrays` checks an IDX set's arrays (its messages name the set, ``train`` or ``test``), and
:data:`DESCRIPTIONS` are the English descriptions of the data a model is tested on, which JSON
keeps (evaluate's ``evaluated_on``, the export's ``verification.data``); :func:`shown` translates
one for a person to read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConvcliError, input_error
from ..i18n import N_, retranslate, tr

if TYPE_CHECKING:
    import numpy as np

NO_CLASS = N_("{path}: the model has no class {name!r} (its classes: {classes})")
"""A folder of pictures whose sub-folder (or an IDX set whose label) is none of a model's classes."""
IDX_TEST_SET = N_("the IDX test set of {root}")
EVERY_PICTURE = N_("every picture in {root}")
OWN_SPLIT = N_("the run's own test split of {root} ({count:,} files named in its record)")
BUILT_IN_TEST_SET = N_("the {name} test set")
UNREADABLE = N_("unreadable")
RANDOM = N_("{count} random pictures")
SAMPLE = N_("{picked} of {total:,} pictures: {what}")
SPLITS = {"train": N_("train"), "test": N_("test")}
"""The two sets' names in messages (``train images``, ``the test set is empty``)."""
DIGIT_FOLDER = N_("every picture in {root}, each prepared like MNIST's digits, as predict does")
DIGIT_FOLDER_BLANKS = N_(
    "every picture in {root}, each prepared like MNIST's digits, as predict does "
    "({count} without a digit, evaluated as blank pictures)"
)
"""A folder of digit pictures evaluated by a digit model (:mod:`convcli.datasets.digitfolders`)."""
FRAMED_FOLDER = N_("every picture in {root}, each framed like the dataset's pictures, as predict does")
"""A folder of garments evaluated by a Fashion-MNIST model: each picture framed as predict frames it."""
DESCRIPTIONS = (
    SAMPLE, RANDOM, UNREADABLE, IDX_TEST_SET, DIGIT_FOLDER, DIGIT_FOLDER_BLANKS, FRAMED_FOLDER, EVERY_PICTURE,
    OWN_SPLIT, BUILT_IN_TEST_SET,
)  # fmt: skip
"""Each read back in this order: a digit folder's before EVERY_PICTURE, which would match it too."""


def bad(message: str, **fields: Any) -> ConvcliError:
    """An input error: a translated ``message`` with its fields filled in."""
    return input_error(message.format(**fields))


def class_index(name: str, names: list[str], path: Any) -> int:
    """The class a folder ``name`` holds: the class of that name, else the class of that number
    (``0`` … ``9``) when no class is named by a number, since some class names cannot name a
    folder (Fashion-MNIST's "T-shirt/top") and many people number their folders; anything else is
    an error naming ``path``."""
    if name in names:
        return names.index(name)
    numbered = not any(n.isdigit() for n in names)
    if numbered and name.isascii() and name.isdigit() and int(name) < len(names):
        return int(name)
    if not numbered:
        raise bad(tr(NO_CLASS), path=path, name=name, classes=", ".join(names))
    message = tr("{path}: the model has no class {name!r} (its classes: {classes}; or their numbers, 0–{last})")
    raise bad(message, path=path, name=name, classes=", ".join(names), last=len(names) - 1)


def shown(description: str) -> str:
    """An English description of test data (one of :data:`DESCRIPTIONS`, or a folder's path) in
    the reader's language."""
    return retranslate(description, DESCRIPTIONS, again=("what",))


def check_arrays(arrays: dict[str, np.ndarray], source: str, shape: tuple[int, int] | None) -> None:
    """The checks every IDX set passes: N×H×W bytes (``shape`` when given), N labels, not empty."""
    import numpy as np

    for split in ("train", "test"):
        x, y, word = arrays[f"x_{split}"], arrays[f"y_{split}"], tr(SPLITS[split])
        if x.ndim != 3 or (shape is not None and x.shape[1:] != shape):
            expected = "N×H×W" if shape is None else f"N×{shape[0]}×{shape[1]}"
            message = tr("{source}: {split} images have shape {shape}, expected {expected}")
            raise bad(message, source=source, split=word, shape=x.shape, expected=expected)
        if y.ndim != 1:
            raise bad(
                tr("{source}: {split} labels have shape {shape}, expected N"), source=source, split=word, shape=y.shape
            )
        if len(x) != len(y):
            message = tr("{source}: {images:,} {split} images but {labels:,} labels")
            raise bad(message, source=source, images=len(x), split=word, labels=len(y))
        if len(x) == 0:
            raise bad(tr("{source}: the {split} set is empty"), source=source, split=word)
        if x.dtype != np.uint8:
            message = tr("{source}: {split} images are {dtype}, expected unsigned bytes")
            raise bad(message, source=source, split=word, dtype=x.dtype)
