"""Never replace a trained model silently: ``train`` refuses an output that already holds a
model, its JSON record or an interrupted run's checkpoint, unless told to replace it.

Refusing (exit status 2, naming the file and ``force``) was chosen over writing the next free
name: a script that trains to ``cnn.keras`` then evaluates ``cnn.keras`` would otherwise
evaluate the old model without a word. (Moves to ``training/`` with issue 22's layout.)
"""

from __future__ import annotations

import json
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
    _refuse([str(p) for p in (output, record_path_for(output)) if p.exists()])


def check_resumed_output(output: Path, checkpoint: Path, *, force: bool = False) -> None:
    """Raise an input error when a run resumed from ``checkpoint`` would replace earlier work at
    ``output`` and ``force`` is False: a model file, or a record or checkpoint of another run
    (the resumed run's own interrupted record and checkpoint are what it goes on from)."""
    if force:
        return
    own = checkpoint.resolve()
    record, other = record_path_for(output), checkpoint_path_for(output)
    found = [output] if output.exists() else []
    found += [record] if record.exists() and _record_checkpoint(record) != own else []
    found += [other] if other.exists() and other.resolve() != own else []
    _refuse([str(p) for p in found])


def _record_checkpoint(record: Path) -> Path | None:
    """The checkpoint an interrupted run's record names (None for any other record or file)."""
    try:
        named = json.loads(record.read_text(encoding="utf-8")).get("checkpoint")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(named).resolve() if isinstance(named, str) else None


def _refuse(found: list[str]) -> None:
    """Raise the error naming the files a run would replace, if there are any."""
    if found:
        message = ngettext(
            "{paths} already exists: train does not replace a trained model; "
            "give another output=FILE, or pass force=True to replace it",
            "{paths} already exist: train does not replace a trained model; "
            "give another output=FILE, or pass force=True to replace it",
            len(found),
        )
        raise input_error(message.format(paths=tr(" and ").join(found)))
