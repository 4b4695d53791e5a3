"""Which inputs a call works on: lists read from a file (``--files-from``) and shards.

A list holds one path a line, or NUL-separated paths (``find -print0``), read as bytes and
decoded as Python decodes file names (``os.fsdecode``), so a name that is not UTF-8 still
names its file. A shard ``K/N`` keeps the inputs whose path, exactly as given, hashes to K: the
choice depends on nothing else (not the list's order, nor which other paths a node listed), so
N machines that each list the same files split them without talking to each other, and each
input keeps its position in the whole list for ``{index}``.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import input_error, param
from ..i18n import tr

SHARD_COUNT_ENV = "CONVCLI_SHARD_COUNT"
"""How many shards a Kubernetes Indexed Job has (set it to the Job's ``completions``)."""


def read_list(name: str, *, null: bool = False, stdin: BinaryIO | None = None) -> list[str]:
    """The paths listed in file ``name`` (``-``: standard input), one a line or, with ``null``,
    separated by NUL bytes. Empty entries are dropped; nothing else is changed (spaces and a
    trailing carriage return are part of a name)."""
    try:
        if name == "-":
            data = (stdin or sys.stdin.buffer).read()
        else:
            with open(name, "rb") as handle:
                data = handle.read()
    except FileNotFoundError:
        raise input_error(tr("{name}: no such file (the list of inputs)").format(name=name)) from None
    except IsADirectoryError:
        raise input_error(tr("{name}: is a folder, expected a list of inputs").format(name=name)) from None
    except OSError as exc:
        raise input_error(
            tr("{name}: cannot read the list of inputs ({reason})").format(name=name, reason=exc.strerror or exc)
        ) from None
    if not null and b"\0" in data:
        raise input_error(
            tr("{name}: the list holds NUL bytes: read it with null=True (find -print0)").format(name=name)
        )
    entries = data.split(b"\0" if null else b"\n")
    return [os.fsdecode(entry) for entry in entries if entry]


def gather_inputs(
    given: Sequence[str], files_from: str | None = None, *, null: bool = False, stdin: BinaryIO | None = None
) -> list[str]:
    """The inputs named on the command line followed by those of the list ``files_from``.

    A list read from standard input cannot also name ``-`` (stdin holds the list)."""
    sources = list(given)
    if files_from is None:
        if null:
            raise input_error(tr("null=True describes a list: give it with files_from=FILE"))
        return sources
    listed = read_list(files_from, null=null, stdin=stdin)
    if files_from == "-" and ("-" in listed or "-" in sources):
        raise input_error(tr("the list is read from standard input, so an input cannot be '-' as well"))
    return sources + listed


@dataclass(frozen=True)
class Shard:
    """Shard ``k`` of ``n`` (1 ≤ k ≤ n), as Playwright and Jest number them."""

    k: int
    n: int

    def holds(self, source: str) -> bool:
        """Whether ``source`` (the path as given) falls in this shard."""
        return shard_of(source, self.n) == self.k

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"


def shard_of(source: str, n: int) -> int:
    """The shard (1…n) of a path: the first 8 bytes of the SHA-256 of its bytes, modulo ``n``.

    Stable across machines, Python versions and runs (unlike ``hash()``)."""
    digest = hashlib.sha256(os.fsencode(source)).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def select(sources: Sequence[str], shard: Shard | None) -> list[int]:
    """The positions (0-based, in list order) of the inputs this shard works on."""
    if shard is None:
        return list(range(len(sources)))
    return [i for i, source in enumerate(sources) if shard.holds(source)]


def parse_shard(text: str, environ: Mapping[str, str] | None = None) -> Shard:
    """``K/N`` or ``auto``: the scheduler's task index and count, from ``environ`` (default
    ``os.environ``): a Slurm job array (``SLURM_ARRAY_TASK_ID``, ``SLURM_ARRAY_TASK_MIN``,
    ``SLURM_ARRAY_TASK_COUNT``, ``SLURM_ARRAY_TASK_STEP``) or a Kubernetes Indexed Job
    (``JOB_COMPLETION_INDEX``, counted from 0, and :data:`SHARD_COUNT_ENV`)."""
    if text.strip().lower() == "auto":
        return _auto_shard(os.environ if environ is None else environ)
    k_text, slash, n_text = text.partition("/")
    try:
        k, n = int(k_text), int(n_text)
    except ValueError:
        k = n = 0
    if not slash or n < 1 or not 1 <= k <= n:
        raise input_error(
            tr("{flag} {text!r}: give K/N with K from 1 to N (1/3, 2/3, 3/3), or auto").format(
                flag=param("shard"), text=text
            )
        )
    return Shard(k, n)


def _number(environ: Mapping[str, str], name: str, default: int | None = None) -> int:
    value = environ.get(name)
    if value is None and default is not None:
        return default
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise input_error(
            tr("{flag} auto: {name}={value!r} is not a whole number").format(
                flag=param("shard"), name=name, value=value
            )
        ) from None


def _auto_shard(environ: Mapping[str, str]) -> Shard:
    """The shard a Slurm array task or a Kubernetes Indexed Job's pod works on."""
    if "SLURM_ARRAY_TASK_ID" in environ:
        task = _number(environ, "SLURM_ARRAY_TASK_ID")
        low = _number(environ, "SLURM_ARRAY_TASK_MIN", 0)
        step = max(1, _number(environ, "SLURM_ARRAY_TASK_STEP", 1))
        count = _number(environ, "SLURM_ARRAY_TASK_COUNT")
        offset, stray = divmod(task - low, step)
        if stray or not 0 <= offset < count:
            raise input_error(
                tr(
                    "{flag} auto: array task {task} is not one of {count} evenly spaced tasks from {low}; "
                    "use a range such as --array=1-10 (or give --shard K/N)"
                ).format(flag=param("shard"), task=task, count=count, low=low)
            )
        return Shard(offset + 1, count)
    if "JOB_COMPLETION_INDEX" in environ:
        if SHARD_COUNT_ENV not in environ:
            raise input_error(
                tr(
                    "{flag} auto: JOB_COMPLETION_INDEX is set but not {variable}: set it to the Job's completions"
                ).format(flag=param("shard"), variable=SHARD_COUNT_ENV)
            )
        index, count = _number(environ, "JOB_COMPLETION_INDEX"), _number(environ, SHARD_COUNT_ENV)
        if count < 1 or not 0 <= index < count:
            raise input_error(
                tr("{flag} auto: JOB_COMPLETION_INDEX={index} is not below {variable}={count}").format(
                    flag=param("shard"), index=index, variable=SHARD_COUNT_ENV, count=count
                )
            )
        return Shard(index + 1, count)
    raise input_error(
        tr("--shard auto: no scheduler found (neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set); give K/N")
    )
