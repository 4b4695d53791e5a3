"""What becomes of each input of a batch, beyond a file written or a failure
(:mod:`convcli.filtering.records`): skipped because its outputs exist, or never started because the run
stopped first; and how paths that are not UTF-8 go into JSON.

A file name is bytes. Python holds a name that is not valid UTF-8 with lone surrogates
(``caf\\udce9.png`` for the Latin-1 ``café.png``), which JSON tools turn into U+FFFD, losing the
name. :func:`path_json` writes such a path twice: readable, with U+FFFD in place of each bad
byte, and exactly, as base64 of its bytes under ``<key>_bytes``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any


def is_utf8(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogates from undecodable bytes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def readable(text: str) -> str:
    """``text`` with each undecodable byte shown as U+FFFD: safe for JSON and terminals."""
    if is_utf8(text):
        return text
    return os.fsencode(text).decode("utf-8", "replace")


def path_bytes(path: str) -> str:
    """The exact bytes of a path, base64-encoded (``base64 -d`` gives them back)."""
    import base64  # only for names that are not UTF-8: not at every start-up

    return base64.b64encode(os.fsencode(path)).decode("ascii")


def path_json(key: str, path: str | None) -> dict[str, Any]:
    """``{key: path}``; for a path that is not UTF-8, the readable form and ``key_bytes``."""
    if path is None or is_utf8(path):
        return {key: path}
    return {key: readable(path), f"{key}_bytes": path_bytes(path)}


def paths_json(key: str, paths: Sequence[str]) -> dict[str, Any]:
    """``{key: [paths]}``; when any is not UTF-8, ``key_bytes`` holds every one's bytes."""
    if all(is_utf8(p) for p in paths):
        return {key: list(paths)}
    return {key: [readable(p) for p in paths], f"{key}_bytes": [path_bytes(p) for p in paths]}


def outputs_json(outputs: Sequence[str]) -> dict[str, Any]:
    """``{"output": path}`` for one file, ``{"outputs": [paths]}`` for several (see :func:`path_json`)."""
    return path_json("output", outputs[0]) if len(outputs) == 1 else paths_json("outputs", outputs)


@dataclass
class Skipped:
    """An input whose outputs all exist already (``skip_existing``): nothing was done."""

    input: str
    outputs: list[str]
    kernels: list[str] | None = None

    def as_json(self) -> dict[str, Any]:
        """``{"input", "output" (or "outputs"), "skipped": true}``."""
        record = path_json("input", self.input)
        record.update(outputs_json(self.outputs))
        return {**record, "skipped": True}


@dataclass
class NotStarted:
    """An input the run never reached: it stopped first (an error, Ctrl-C, or a refusal)."""

    input: str

    def as_json(self) -> dict[str, Any]:
        """``{"input", "not_started": true}``."""
        return {**path_json("input", self.input), "not_started": True}


@dataclass
class Written:
    """The files one input gave in a ``gray`` or ``channels`` batch, and what describes them."""

    input: str
    outputs: list[str]
    fields: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """``{"input", "output", …}`` for one file, ``{"input", "outputs": […], …}`` for several."""
        record = path_json("input", self.input)
        record.update(outputs_json(self.outputs))
        return {**record, **self.fields}


class Accounting:
    """Passes each event on to ``report`` and remembers which inputs have one, so that when the
    run stops (an error, Ctrl-C), every input left is reported once as :class:`NotStarted`."""

    def __init__(self, inputs: Sequence[str], report: Callable[[Any], None] | None) -> None:
        self.left = dict.fromkeys(inputs)
        self.report = report
        self.not_started: list[NotStarted] = []

    def __call__(self, event: Any) -> None:
        self.left.pop(event.input, None)
        if self.report is not None:
            self.report(event)

    @contextlib.contextmanager
    def stopping(self) -> Iterator[Accounting]:
        """Around the run: when it raises, report the inputs it never reached, then re-raise."""
        try:
            yield self
        except BaseException:
            for source in list(self.left):
                self(event := NotStarted(source))
                self.not_started.append(event)
            raise
