"""What a batch reports as it goes: one record per output file once it is in place, one failure
per input that failed, the running tally behind the summary line, and a Ctrl-C guard so that a
file already written is always reported before the run stops."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..batches.events import NotStarted, Skipped, path_json, readable

if TYPE_CHECKING:
    import numpy as np


@dataclass
class FilterRecord:
    """One output of a filter run: where it went, which kernel(s), its shape and value range.

    ``output`` is ``None`` when the result is meant for stdout as a matrix and ``"-"`` for PNG
    on stdout; only then is ``array`` kept (batch runs keep no arrays, so memory stays flat).
    """

    input: str
    output: str | None
    kernels: list[str]
    shape: tuple[int, ...]
    min: float
    max: float
    array: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def of(cls, source: str, output: str | None, kernels: list[str], array: np.ndarray) -> FilterRecord:
        """A record for ``array``, keeping the array only when it is bound for stdout."""
        keep = array if output in (None, "-") else None
        return cls(source, output, kernels, tuple(array.shape), float(array.min()), float(array.max()), keep)

    def as_json(self, with_values: bool = False) -> dict[str, object]:
        """The ``--json`` object: input, output, kernel(s), shape, min, max (and values)."""
        record: dict[str, object] = {
            **path_json("input", self.input),
            **path_json("output", self.output if self.output is not None else "-"),
            "kernel": self.kernels[0] if len(self.kernels) == 1 else self.kernels,
            "shape": list(self.shape),
            "min": self.min,
            "max": self.max,
        }
        if with_values and self.array is not None:
            record["values"] = self.array.tolist()
        return record


@dataclass
class FilterFailure:
    """An input that failed in a ``keep_going`` batch, and why."""

    input: str
    message: str

    def as_json(self) -> dict[str, object]:
        """The ``--json`` object of a failure: input and error (see :func:`~convcli.batches.events.path_json`)."""
        return {**path_json("input", self.input), "error": readable(self.message)}


Report = Callable[[FilterRecord | FilterFailure | Skipped | NotStarted], None]
"""Called with each record once its file is in place, and with each failure, as they happen;
with each input skipped (its outputs exist) before the work, and each input the run never
reached once it stops."""


@dataclass
class FilterResult:
    """Everything a filter run produced: records, failures when ``keep_going``, and the inputs
    skipped because their outputs exist (``existing="skip"``)."""

    records: list[FilterRecord]
    failures: list[FilterFailure]
    skipped: list[Skipped] = field(default_factory=list)


class BatchTally:
    """What a batch has done so far, counted as its outputs land: files written, inputs failed,
    inputs skipped (outputs there already), inputs not started (nothing written for them and no
    error). ``inputs`` may be set later, once a shard's share is known."""

    def __init__(self, inputs: int, outputs_per_input: int = 1) -> None:
        self.inputs = inputs
        self.outputs_per_input = outputs_per_input
        self.files = 0
        self.written: dict[str, int] = {}
        self.failed: set[str] = set()
        self.skipped: set[str] = set()
        self.verb, self.noun = "wrote", "file"  # predict: "predicted", "picture"

    def add_file(self, source: str) -> bool:
        """Count one output file of ``source``; True when it was the input's last output."""
        self.files += 1
        count = self.written[source] = self.written.get(source, 0) + 1
        return count == self.outputs_per_input and source not in self.failed

    def add_failure(self, source: str) -> bool:
        """Count ``source`` as failed; True the first time (an input fails once)."""
        first = source not in self.failed
        self.failed.add(source)
        return first

    def add_skipped(self, source: str) -> None:
        """Count ``source`` as skipped: its outputs exist."""
        self.skipped.add(source)

    @property
    def not_started(self) -> int:
        """Inputs with neither an output written, nor an error, nor a skip."""
        return max(0, self.inputs - len(self.failed | self.written.keys() | self.skipped))

    def summary(self) -> str:
        """One line such as ``wrote 97 files, 3 skipped, 1 failed, 102 not started`` (zero counts
        left out)."""
        from ..i18n import ngettext

        if self.verb == "predicted":
            first = ngettext("predicted {count} picture", "predicted {count} pictures", self.files)
        else:
            first = ngettext("wrote {count} file", "wrote {count} files", self.files)
        parts = [first.format(count=self.files)]
        if self.skipped:
            parts.append(
                ngettext("{count} skipped", "{count} skipped", len(self.skipped)).format(count=len(self.skipped))
            )
        if self.failed:
            parts.append(ngettext("{count} failed", "{count} failed", len(self.failed)).format(count=len(self.failed)))
        if self.not_started:
            parts.append(
                ngettext("{count} not started", "{count} not started", self.not_started).format(count=self.not_started)
            )
        return ", ".join(parts)


class InterruptGuard:
    """Ctrl-C (SIGINT) raised only outside :meth:`held` blocks, so that a file already in place
    is always reported before the run stops.

    Installed in the main thread (where Python runs signal handlers) over Python's default
    handler only; elsewhere it changes nothing.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.pending = False
        self.previous: object = None

    def __enter__(self) -> InterruptGuard:
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)  # type: ignore[arg-type]
            self.previous = None

    def _handler(self, signum: int, frame: object) -> None:
        if self.depth:
            self.pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """A block that Ctrl-C does not cut short; a Ctrl-C pressed during it is raised after."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if not self.depth and self.pending:
                self.pending = False
                raise KeyboardInterrupt
