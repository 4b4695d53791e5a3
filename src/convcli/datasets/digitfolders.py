"""A folder of a user's digit pictures as a labelled test set for a digit model, each picture
prepared as ``predict`` prepares it (``evaluate MODEL --data DIR``): the same files give the same
answers in both commands, where feeding the folder raw gave 6% against predict's 94%. A model of
a built-in set of objects (Fashion-MNIST) gets its pictures framed as ``predict`` frames them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConvcliError, input_error
from ..i18n import tr
from .wording import DIGIT_FOLDER, DIGIT_FOLDER_BLANKS, FRAMED_FOLDER

if TYPE_CHECKING:
    from ..models.metadata import ModelMeta
    from .idx import Dataset


def digit_test_folder(folder: str | os.PathLike[str], meta: ModelMeta, warn_line: Any = None) -> tuple[Dataset, str]:
    """The labelled pictures of ``folder`` (class folders, or its ``test/`` folder) prepared for a
    digit model (or framed for a model of objects) as ``predict`` prepares them, one by one; a
    picture with no digit gives a warning and is evaluated as a blank picture (its label kept, so
    the accuracy is over every picture); a file that is no picture is skipped with a warning."""
    from ..models.inputs import paper_for, preparation_for
    from ..prediction.predict import prepare_picture
    from .folders import list_folder
    from .idx import Dataset

    root = Path(folder)
    listing = list_folder(root, meta.class_names)
    files, what = (listing.test, f"{root / 'test'}") if listing.test is not None else (listing.train, f"{root}")
    size, how = (meta.input_shape[0], meta.input_shape[1]), preparation_for(meta)
    blank = size if how == "digit" else tuple(meta.input_shape)
    inputs, labels, refused = [], [], 0
    for path, label in files:
        try:
            inputs.append(prepare_picture(path, how, size, meta.color, paper=paper_for(meta)))
        except ConvcliError as exc:
            if not _readable(path):  # not a picture at all (a note, a broken file): skipped, as train skips it
                if warn_line is not None:
                    warn_line(tr("skipped {problem}").format(problem=exc.message))
                continue
            refused += 1
            inputs.append(np.zeros(blank, dtype=np.uint8))
            if warn_line is not None:
                warn_line(tr("{message} (evaluated as a blank picture)").format(message=exc.message))
        labels.append(label)
    if not inputs:
        raise input_error(tr("{root}: no pictures").format(root=root))
    x, y = np.stack(inputs), np.asarray(labels, dtype=np.int32)
    wording = FRAMED_FOLDER if how == "frame" else DIGIT_FOLDER_BLANKS if refused else DIGIT_FOLDER
    what = wording.format(root=what, count=refused)  # English: JSON
    return Dataset(f"folder:{root.resolve().name}", x[:0], y[:0], x, y, str(root), names=meta.class_names), what


def _readable(path: str) -> bool:
    """Whether ``path`` decodes as a picture (asked only of a file whose preparation failed)."""
    from ..imaging.images import open_image, read_bytes

    try:
        open_image(read_bytes(path), path)
    except ConvcliError:
        return False
    return True
