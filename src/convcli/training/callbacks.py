"""The Keras callbacks every training run uses: stop on a signal, and record and checkpoint each
completed epoch.

Importing this module loads Keras: the training step imports it after the config's checks.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backend import keras as _keras
from .checkpoints import RunState, save_model
from .interrupts import StopFlag

if TYPE_CHECKING:
    from ..models.metadata import ModelMeta

keras = _keras()


class StopOnSignal(keras.callbacks.Callback):
    """Ends ``fit`` after the current batch once SIGINT or SIGTERM has arrived."""

    def __init__(self, flag: StopFlag) -> None:
        super().__init__()
        self.flag = flag

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.flag.signal_name is not None:
            self.model.stop_training = True


class EpochRecorder(keras.callbacks.Callback):
    """Appends each completed epoch's metrics and time to the run's history, then saves the
    checkpoint (every epoch but the last, and only where ``checkpoint`` is given) carrying ``meta``.

    Own rather than ``keras.callbacks.History``: that one starts afresh on resume and also
    records an epoch cut short by a signal, which must not count as done.
    """

    def __init__(self, run: RunState, checkpoint: Path | None, meta: ModelMeta | None = None) -> None:
        super().__init__()
        self.run, self.checkpoint, self.meta = run, checkpoint, meta
        self.epoch_started = time.monotonic()
        self.batches = 0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch_started = time.monotonic()
        self.batches = 0

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.batches += 1

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.batches < self.params["steps"]:
            return  # cut short by a signal: not a completed epoch
        self.run.history.append(
            {
                "epoch": epoch + 1,
                **{key: float(v) for key, v in (logs or {}).items() if key != "learning_rate"},
                "seconds": time.monotonic() - self.epoch_started,
            }
        )
        self.run.epochs_done = epoch + 1
        if self.checkpoint is not None and epoch + 1 < self.run.config.epochs:
            save_model(self.model, self.checkpoint, self.run.as_json("running"), self.meta)
