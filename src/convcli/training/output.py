"""Never replace a trained model silently: ``train`` refuses an output that already holds a
model, its JSON record or an interrupted run's checkpoint, unless told to replace it.

Refusing (exit status 2, naming the file and ``force``) was chosen over writing the next free
name: a script that trains to ``cnn.keras`` then evaluates ``cnn.keras`` would otherwise
evaluate the old model without a word. (Moves to ``training/`` with issue 22's layout.)
"""

from __future__ import annotations

from pathlib import Path

from ..errors import input_error, param
from ..i18n import ngettext, tr
from .checkpoints import checkpoint_path_for, model_path_for, read_record, record_path_for


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
    (the resumed run's own interrupted record and checkpoint are what it goes on from). Writing
    the model over that checkpoint is refused even with ``force``: it would be removed at the end."""
    own = checkpoint.resolve()
    if output.resolve() == own:
        message = tr("{path}: the model cannot be written over the checkpoint it goes on from; give another {output}")
        raise input_error(message.format(path=output, output=param("output")))
    if force:
        return
    record, other = record_path_for(output), checkpoint_path_for(output)
    found = [output] if output.exists() else []
    found += [record] if record.exists() and not is_own_record(record, checkpoint) else []
    found += [other] if other.exists() and other.resolve() != own else []
    _refuse([str(p) for p in found])


def is_own_record(record: Path, checkpoint: Path) -> bool:
    """Whether ``record`` is the one the run that left ``checkpoint`` wrote: the record beside it
    (``NAME.json`` for ``NAME.ckpt.keras``), or one naming it as its checkpoint."""
    model = model_path_for(checkpoint)
    if model is not None and record_path_for(model).resolve() == record.resolve():
        return True
    named = read_record(record).get("checkpoint")
    return isinstance(named, str) and (record.parent / Path(named).name).resolve() == checkpoint.resolve()


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


def retire_checkpoint(checkpoint: Path, record_written: Path) -> None:
    """After a resumed run completed (its record is ``record_written``): remove the checkpoint it
    went on from, and that checkpoint's own record when it is another file still saying
    "interrupted" (``-o`` moved the run), so no record points at a checkpoint that is gone."""
    checkpoint.unlink(missing_ok=True)
    model = model_path_for(checkpoint)
    record = record_path_for(model) if model is not None else None
    if record is None or not record.exists() or record.resolve() == record_written.resolve():
        return
    if read_record(record).get("status") == "interrupted":
        record.unlink(missing_ok=True)
