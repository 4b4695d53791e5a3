"""A folder of a user's digit pictures as a labelled test set for a digit model, each picture
prepared as ``predict`` prepares it (``evaluate MODEL --data DIR``): the same files give the same
answers in both commands, where feeding the folder raw gave 6% against predict's 94%.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConvcliError, input_error
from ..i18n import tr
from .wording import DIGIT_FOLDER, DIGIT_FOLDER_BLANKS

if TYPE_CHECKING:
    from ..models.metadata import ModelMeta
    from .idx import Dataset


def digit_test_folder(folder: str | os.PathLike[str], meta: ModelMeta, warn_line: Any = None) -> tuple[Dataset, str]:
    """The labelled pictures of ``folder`` (class folders, or its ``test/`` folder) prepared for a
    digit model as ``predict`` prepares them, one by one; a picture with no digit gives a warning
    and is evaluated as a blank picture (its label kept, so the accuracy is over every file)."""
    from ..prediction.predict import prepare_picture
    from .folders import list_folder
    from .idx import Dataset

    root = Path(folder)
    listing = list_folder(root, meta.class_names)
    files, what = (listing.test, f"{root / 'test'}") if listing.test is not None else (listing.train, f"{root}")
    size = (meta.input_shape[0], meta.input_shape[1])
    inputs, labels, refused = [], [], 0
    for path, label in files:
        try:
            inputs.append(prepare_picture(path, "digit", size, meta.color))
        except ConvcliError as exc:
            refused += 1
            inputs.append(np.zeros(size, dtype=np.uint8))
            if warn_line is not None:
                warn_line(tr("{message} (evaluated as a blank picture)").format(message=exc.message))
        labels.append(label)
    if not inputs:
        raise input_error(tr("{root}: no pictures").format(root=root))
    x, y = np.stack(inputs), np.asarray(labels, dtype=np.int32)
    what = (DIGIT_FOLDER_BLANKS if refused else DIGIT_FOLDER).format(root=what, count=refused)  # English: JSON
    return Dataset(f"folder:{root.resolve().name}", x[:0], y[:0], x, y, str(root), names=meta.class_names), what
