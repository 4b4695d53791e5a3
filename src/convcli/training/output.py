"""Never replace a trained model silently: ``train`` refuses an output that already holds a
model, its JSON record or an interrupted run's checkpoint, unless told to replace it.

Refusing (exit status 2, naming the file and ``force``) was chosen over writing the next free
name: a script that trains to ``cnn.keras`` then evaluates ``cnn.keras`` would otherwise
evaluate the old model without a word. (Moves to ``training/`` with issue 22's layout.)
"""

from __future__ import annotations

from pathlib import Path

from ..errors import input_error
from ..i18n import ngettext, tr
from .checkpoints import checkpoint_path_for, record_path_for


def check_replacing(output: Path, *, force: bool = False) -> None:
    """Raise an input error when training to ``output`` would replace earlier work and
    ``force`` is False: the model file, its record (``.json``) or its checkpoint."""
    if force:
        return
    checkpoint = checkpoint_path_for(output)
    if checkpoint.exists():
        raise input_error(
            tr(
                "{path}: an interrupted run left its checkpoint {checkpoint}; continue it with "
                "resume=CHECKPOINT, or pass force=True to start over (replacing it)"
            ).format(path=output, checkpoint=checkpoint)
        )
    found = [str(p) for p in (output, record_path_for(output)) if p.exists()]
    if found:
        message = ngettext(
            "{paths} already exists: train does not replace a trained model; "
            "give another output=FILE, or pass force=True to replace it",
            "{paths} already exist: train does not replace a trained model; "
            "give another output=FILE, or pass force=True to replace it",
            len(found),
        )
        raise input_error(message.format(paths=tr(" and ").join(found)))
