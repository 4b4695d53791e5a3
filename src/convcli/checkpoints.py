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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import input_error
from .modelmeta import write_meta
from .outputs import atomic_path
from .trainconfig import TrainConfig

if TYPE_CHECKING:
    from .modelmeta import ModelMeta

STATE_ENTRY = "convcli_state.json"


def checkpoint_path_for(output: str | os.PathLike[str]) -> Path:
    """Where a run writing ``output`` keeps its checkpoint: ``NAME.ckpt.keras`` beside it."""
    out = Path(output)
    return out.with_name(f"{out.stem}.ckpt.keras")


def record_path_for(output: str | os.PathLike[str]) -> Path:
    """The JSON record beside a model: ``NAME.json``."""
    out = Path(output)
    return out.with_name(f"{out.stem}.json")


@dataclass
class RunState:
    """A run's progress: its config, the epochs done with their metrics, and the time spent."""

    config: TrainConfig
    history: list[dict[str, float]] = field(default_factory=list)
    epochs_done: int = 0
    seconds_before: float = 0.0
    started: float = field(default_factory=time.monotonic)

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
    """Save atomically, with what the model was trained on (``meta``, :mod:`convcli.modelmeta`)
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
        raise input_error(f"{p}: no such checkpoint") from None
    except KeyError:
        raise input_error(f"{p}: not a convcli checkpoint (no run state inside)") from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise input_error(f"{p}: corrupted checkpoint ({exc})") from None


def resume_state(checkpoint: str | os.PathLike[str], output: str) -> RunState:
    """The state to go on from: the checkpoint's config (architecture, data, schedule), its
    history and time; only the output file may change."""
    state = read_checkpoint_state(checkpoint)
    try:
        config = TrainConfig(**{**state["config"], "output": output})
    except (KeyError, TypeError) as exc:
        raise input_error(f"{checkpoint}: a checkpoint of another convcli version ({exc})") from None
    return RunState(
        config,
        history=list(state.get("history", [])),
        epochs_done=int(state.get("epochs_completed", 0)),
        seconds_before=float(state.get("seconds", 0.0)),
    )
