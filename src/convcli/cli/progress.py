"""The ``train`` command's progress display as a Keras callback: a rich progress bar on a
terminal, one plain line per completed epoch otherwise.

A label-smoothed loss is shown as ``loss(ε=0.1)``, so that it is not read as the plain
cross-entropy. Importing this module loads Keras: import it after the run's checks.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from ..backend import keras as _keras
from ..i18n import tr as _
from ..training.objective import label_smoothing_of, loss_key

keras = _keras()


class TrainingProgress(keras.callbacks.Callback):
    """Progress of ``fit`` for a person: a bar on ``console`` (a ``rich.console.Console``) when
    one is given, else a line per completed epoch on ``stream``; :meth:`log` prints status lines."""

    def __init__(self, stream: TextIO, console: Any = None) -> None:
        super().__init__()
        self.stream, self.console = stream, console
        self.bar: Any = None
        self.task: Any = None
        self.smoothing = 0.0
        self.epoch_started = time.monotonic()
        self.epoch = 0
        self.batches = 0

    def log(self, message: str) -> None:
        """A status line: through rich on a terminal, plain otherwise."""
        if self.console is not None:
            self.console.print(f"[dim]{message}[/dim]")
        else:
            self.stream.write(message + "\n")
            self.stream.flush()

    def on_train_begin(self, logs: Any = None) -> None:
        self.smoothing = label_smoothing_of(self.model)

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch_started = time.monotonic()
        self.epoch, self.batches = epoch, 0
        if self.console is not None and self.bar is None:
            self._start_bar(first_epoch=epoch)

    def _start_bar(self, first_epoch: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        epochs, steps = self.params["epochs"], self.params["steps"]
        self.bar = Progress(
            TextColumn(
                "[bold]"
                + _("epoch {epoch}/{epochs}").format(epoch="{task.fields[epoch]}", epochs="{task.fields[epochs]}")
            ),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.bar.start()
        total = (epochs - first_epoch) * steps
        self.task = self.bar.add_task("train", total=total, epoch=first_epoch + 1, epochs=epochs, metrics="")

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.batches += 1
        if self.bar is not None:
            logs = logs or {}
            loss = f"{loss_key('loss', self.smoothing)} {logs.get('loss', float('nan')):.4f}"
            metrics = f"{loss} acc {logs.get('accuracy', 0):.4f}"
            self.bar.update(self.task, advance=1, epoch=self.epoch + 1, metrics=metrics)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.batches < self.params["steps"]:
            return  # cut short by a signal: not a completed epoch
        logs = logs or {}
        parts = [_("epoch {epoch}/{epochs}").format(epoch=epoch + 1, epochs=self.params["epochs"])]
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if key in logs:
                parts.append(f"{loss_key(key, self.smoothing) if 'loss' in key else key} {logs[key]:.4f}")
        parts.append(f"{time.monotonic() - self.epoch_started:.1f}s")
        if self.bar is not None:
            self.bar.console.print("  ".join(parts))
        else:
            self.stream.write("  ".join(parts) + "\n")
            self.stream.flush()

    def on_train_end(self, logs: Any = None) -> None:
        if self.bar is not None:
            self.bar.stop()
