"""Checkpoints: a ``.keras`` file written atomically that also carries the run's state.

Kept by hand rather than ``keras.callbacks.ModelCheckpoint``/``BackupAndRestore``: those write
in place (a signal mid-write leaves a partial file), cannot save at an arbitrary moment, and
keep no run state (config, history, time) inside the one file that ``--resume`` reads.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConvcliError, input_error, param
from ..i18n import tr
from ..models.metadata import write_meta
from ..outputs import atomic_path
from .config import TrainConfig

if TYPE_CHECKING:
    from ..models.metadata import ModelMeta

STATE_ENTRY = "convcli_state.json"


def checkpoint_path_for(output: str | os.PathLike[str]) -> Path:
    """Where a run writing ``output`` keeps its checkpoint: ``NAME.ckpt.keras`` beside it."""
    out = Path(output)
    return out.with_name(f"{out.stem}.ckpt.keras")


def model_path_for(checkpoint: str | os.PathLike[str]) -> Path | None:
    """The model file a checkpoint named ``NAME.ckpt.keras`` was written for (``NAME.keras``
    beside it), or None for a checkpoint renamed otherwise."""
    path, suffix = Path(checkpoint), ".ckpt.keras"
    return path.with_name(path.name[: -len(suffix)] + ".keras") if path.name.endswith(suffix) else None


def record_path_for(output: str | os.PathLike[str]) -> Path:
    """The JSON record beside a model: ``NAME.json``."""
    out = Path(output)
    return out.with_name(f"{out.stem}.json")


def read_record(record: Path) -> dict[str, Any]:
    """A run's JSON record, or an empty dict when there is none (or it is not one): what the
    checks on an output or a resume read its ``status`` and ``checkpoint`` from."""
    try:
        found = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


@dataclass
class RunState:
    """A run's progress: its config, the epochs done with their metrics, and the time spent."""

    config: TrainConfig
    history: list[dict[str, float]] = field(default_factory=list)
    epochs_done: int = 0
    seconds_before: float = 0.0
    started: float = field(default_factory=time.monotonic)
    resumed_from: str | None = None
    """The checkpoint this run goes on from (None for a fresh run)."""
    epochs_before: int = -1
    """Epochs the checkpoint had done when this run resumed it (set on resume)."""
    schedule: dict[str, Any] = field(default_factory=dict)
    """The learning-rate schedule's name and length in steps (set once the model is compiled)."""
    statistics: dict[str, Any] = field(default_factory=dict)
    """What batch normalisation's statistics were recomputed over, once they were (at the last batch)."""

    def __post_init__(self) -> None:
        if self.epochs_before < 0:
            self.epochs_before = self.epochs_done

    @property
    def resumed(self) -> dict[str, Any] | None:
        """What the record says about a resumed run: the checkpoint, and the epochs and seconds
        done before it was resumed (``seconds`` counts both parts); None for a fresh run."""
        if self.resumed_from is None:
            return None
        return {"from": self.resumed_from, "epochs_before": self.epochs_before, "seconds_before": self.seconds_before}

    @property
    def seconds(self) -> float:
        """Training time so far, including the runs this one resumes."""
        return self.seconds_before + time.monotonic() - self.started

    def as_json(self, status: str) -> dict[str, Any]:
        """What a checkpoint stores (``status``: running or interrupted)."""
        return {
            "config": asdict(self.config),
            "epochs_completed": self.epochs_done,
            "history": self.history,
            "status": status,
            "seconds": self.seconds,
        }


def save_model(model: Any, path: Path, state: dict[str, Any] | None = None, meta: ModelMeta | None = None) -> None:
    """Save atomically, with what the model was trained on (``meta``, :mod:`convcli.models.metadata`)
    inside the .keras zip; a checkpoint also carries the run's state there."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
        if meta is not None:
            write_meta(tmp, meta)
        if state is not None:
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(STATE_ENTRY, json.dumps(state))


def read_checkpoint_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The run state stored in a checkpoint (config, epochs done, history)."""
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as archive:
            return json.loads(archive.read(STATE_ENTRY))
    except FileNotFoundError:
        raise _nothing_to_resume(p, tr("{path}: no such checkpoint")) from None
    except KeyError:
        raise _nothing_to_resume(p, tr("{path}: not a convcli checkpoint (no run state inside)")) from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise input_error(tr("{path}: corrupted checkpoint ({detail})").format(path=p, detail=exc)) from None


def _nothing_to_resume(path: Path, problem: str) -> ConvcliError:
    """``problem`` with the file given to resume; when that file is a finished run's model, or
    the checkpoint such a run removed, the reason too: a completed run keeps no checkpoint, so
    training longer means training again (the record beside the model says how the run ended)."""
    message = problem.format(path=path)
    model = model_path_for(path) or path
    if read_record(record_path_for(model)).get("status") == "completed":
        hint = tr(
            "{model} is a finished run's model: a run that completes its epochs removes its "
            "checkpoint; to train longer, train again from the start with more {epochs} ({force} "
            "replaces the model)"
        )
        message += "; " + hint.format(model=model, epochs=param("epochs"), force=param("force"))
    return input_error(message)


RESUMABLE = ("epochs", "output", "data_dir")
"""What may change when a run is resumed: the number of epochs (not below those done), where the
model goes and where the data is. Everything else defines the run and stays the checkpoint's."""


def resume_conflicts(stored: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The ``changes`` (TrainConfig field → value) that a resumed run cannot take: those outside
    :data:`RESUMABLE` that differ from the checkpoint's ``stored`` config, as name → (stored, given).
    A value equal to the stored one is no conflict."""
    return {
        name: (stored.get(name), value)
        for name, value in changes.items()
        if name not in RESUMABLE and _plain(value) != _plain(stored.get(name))
    }


def _plain(value: Any) -> Any:
    """A value as the checkpoint's JSON stores it (tuples as lists), for comparison."""
    return list(value) if isinstance(value, tuple) else value


def resume_state(checkpoint: str | os.PathLike[str], changes: str | Mapping[str, Any]) -> RunState:
    """The state to go on from: the checkpoint's config (architecture, data, schedule), its
    history and time, with ``changes`` applied (a mapping of TrainConfig fields, or just the
    output file). Changing anything outside :data:`RESUMABLE` is an error naming it, and so is
    asking for fewer epochs than the checkpoint has done."""
    state = read_checkpoint_state(checkpoint)
    changes = {"output": changes} if isinstance(changes, str) else dict(changes)
    stored = state.get("config", {})
    conflicts = resume_conflicts(stored, changes)
    if conflicts:
        each = tr("{name}={given!r} (the checkpoint's: {old!r})")
        listed = "; ".join(each.format(name=name, given=given, old=old) for name, (old, given) in conflicts.items())
        message = tr("{path}: a resumed run keeps its settings, so these cannot change: {listed}")
        raise input_error(message.format(path=checkpoint, listed=listed))
    try:
        config = TrainConfig(**{**stored, **changes})
    except (KeyError, TypeError) as exc:
        raise input_error(
            tr("{path}: a checkpoint of another convcli version ({detail})").format(path=checkpoint, detail=exc)
        ) from None
    done = int(state.get("epochs_completed", 0))
    if config.epochs < done:
        message = tr("{name} {epochs}: {path} has already completed {done} epochs; give {name} {done} or more")
        raise input_error(message.format(name=param("epochs"), epochs=config.epochs, path=checkpoint, done=done))
    return RunState(
        config,
        history=list(state.get("history", [])),
        epochs_done=done,
        seconds_before=float(state.get("seconds", 0.0)),
        resumed_from=str(checkpoint),
    )


def weights_digest(model: Any) -> str:
    """SHA-256 of the model's weights, to check that processes of one run agree bit for bit."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight, dtype=np.float32).tobytes())
    return digest.hexdigest()
