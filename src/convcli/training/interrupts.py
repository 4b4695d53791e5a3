"""SIGINT/SIGTERM during training: remember the signal so training stops after the current batch
and saves a checkpoint; a third signal gives up at once.

Written by hand: Keras has no signal handling (``BackupAndRestore`` only restores after a
restart), and a signal may arrive at any moment, even before Keras is imported.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class StopFlag:
    """The first signal received (``SIGINT`` or ``SIGTERM``), if any, and how many came."""

    signal_name: str | None = None
    count: int = 0

    def handle(self, signum: int, frame: Any) -> None:
        """The signal handler: note the signal; the third one raises ``KeyboardInterrupt``."""
        self.count += 1
        if self.signal_name is None:
            self.signal_name = signal.Signals(signum).name
        if self.count >= 3:
            raise KeyboardInterrupt


@contextlib.contextmanager
def signals_caught() -> Iterator[StopFlag]:
    """Route SIGINT and SIGTERM to a fresh :class:`StopFlag` for the block (main thread only;
    elsewhere the flag never rises), then restore the previous handlers."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {sig: signal.signal(sig, flag.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
