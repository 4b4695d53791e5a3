"""How a batch (``filter``, ``gray``, ``channels``, ``predict``) shows a run as it goes: one result
per line as each file lands (flushed), errors as they happen, a rich progress bar on a terminal,
and a summary line on stderr at the end.

stdout carries results only: a JSON object per output written (``{"input", "output", "kernel",
"shape", "min", "max"}``), per failure (``{"input", "error"}``), per input skipped
(``"skipped": true``) or never started (``"not_started": true``), so a script can rely on it
alone: every input of the call appears there. The progress bar and the summary go to stderr.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import click
import typer

from ..errors import EXIT_FAILURE
from ..filtering.records import BatchTally, FilterFailure, FilterRecord
from ..i18n import ngettext
from .common import (
    echo,
    error_status,
    error_text,
    flush_stdout,
    in_cli_words,
    is_tty,
    print_json,
    stderr_line,
    write_png_stdout,
)
from .options import (
    FilesFrom,
    KeepGoing,
    NameTemplate,
    NoClobber,
    Null,
    Parents,
    ShardOption,
    SkipExisting,
    Workers,
    batch_inputs,
    check_dash_out_dir,
    existing_mode,
    shard_option,
    shard_size,
)

PROGRESS_MIN_INPUTS = 5
"""A progress bar for batches of at least this many inputs (smaller ones end before it helps)."""


def stderr_is_tty() -> bool:
    """Whether stderr is a terminal (progress bar and summary line) rather than a pipe or file."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class BatchView:
    """Renders each event of a batch (filter, gray, channels, predict) the moment the library
    reports it: a record per file written, a failure, an input skipped or never started.

    ``label`` names the progress bar; ``plain`` renders a ``gray``/``channels`` record or a
    prediction without ``--json`` (nothing by default), ``json_of`` gives its ``--json`` object
    (default: its ``as_json()``)."""

    def __init__(
        self,
        *,
        inputs: int,
        outputs_per_input: int,
        json_: bool,
        keep_going: bool,
        png_level: int = 6,
        label: str = "filter",
        plain: Callable[[Any], None] | None = None,
        json_of: Callable[[Any], dict[str, Any]] | None = None,
    ) -> None:
        self.tally = BatchTally(inputs, outputs_per_input)
        self.png_level = png_level  # zlib level of a PNG on stdout (-o -)
        self.json = json_
        self.keep_going = keep_going
        self.label = label
        self.plain = plain
        self.json_of = json_of  # a prediction's record (its --top)
        self.progress: Any = None
        self.task: Any = None

    def report(self, event: Any) -> None:
        """Print one event: a result on stdout (flushed), an error on stderr; advance the bar."""
        if isinstance(event, FilterFailure):
            done = self.tally.add_failure(event.input)
            if self.json:
                print_json(event.as_json())
            if self.keep_going:  # otherwise the run stops and its error is printed once, at the end
                stderr_line(error_text(in_cli_words(event.message)))
        elif not isinstance(event, FilterRecord):
            done = self._other(event)
        else:
            done = event.output not in (None, "-") and self.tally.add_file(event.input)
            self._render(event)
        flush_stdout()
        if done and self.progress is not None:
            self.progress.advance(self.task)

    def _other(self, event: Any) -> bool:
        """An input skipped, not started, or written by gray/channels/predict; True when it is done."""
        from ..batches.events import NotStarted, Skipped

        if isinstance(event, Skipped):
            self.tally.add_skipped(event.input)
        elif not isinstance(event, NotStarted):
            outputs = getattr(event, "outputs", None) or [None]
            for _ in outputs:
                self.tally.add_file(event.input)
        if self.json:
            written = not isinstance(event, (Skipped, NotStarted))
            print_json(self.json_of(event) if written and self.json_of is not None else event.as_json())
        elif self.plain is not None and not isinstance(event, (Skipped, NotStarted)):
            self.plain(event)
        return not isinstance(event, NotStarted)

    def _render(self, record: FilterRecord) -> None:
        if self.json:
            print_json(record.as_json(with_values=record.output is None))
        elif record.output is None:
            from ..imaging.textformat import format_matrix

            echo(format_matrix(record.array))
        elif record.output == "-":
            write_png_stdout(record.array, png_level=self.png_level)

    @contextlib.contextmanager
    def running(self) -> Iterator[BatchView]:
        """Around the run: the progress bar while it works; then, even when it stops on an error
        or Ctrl-C, the error line and the summary, and the documented exit status."""
        try:
            with self._progress_bar():
                yield self
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BaseException as exc:
            status = error_status(exc)
            if status is None:
                raise
            self._summary(stopped=True)
            raise typer.Exit(status) from None
        self._summary(stopped=False)

    def _progress_bar(self) -> contextlib.AbstractContextManager[Any]:
        """A rich progress bar on stderr for a batch on a terminal, unless stdout's results are
        shown on that terminal too (they would tear the bar); nothing otherwise."""
        inputs = self.tally.inputs
        if inputs < PROGRESS_MIN_INPUTS or not stderr_is_tty() or (self.json and is_tty()):
            return contextlib.nullcontext()
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn(self.label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
            redirect_stdout=False,
            redirect_stderr=True,
        )
        self.task = self.progress.add_task(self.label, total=inputs)
        return self.progress

    def _summary(self, *, stopped: bool) -> None:
        """The batch's last line on a terminal ("wrote 97 files, 1 failed, 102 not started"); when
        piped, the count of failed inputs of a finished ``keep_going`` run, as before."""
        tally = self.tally
        if tally.inputs > 1 and stderr_is_tty():
            stderr_line(tally.summary())
        elif tally.failed and not stopped:
            stderr_line(
                ngettext(
                    "{failed} of {inputs} inputs failed", "{failed} of {inputs} inputs failed", len(tally.failed)
                ).format(failed=len(tally.failed), inputs=tally.inputs)
            )


@dataclass
class FolderArgs:
    """The batch options of ``gray`` and ``channels`` as typed (see :func:`with_batch_options`)."""

    name: str | None = None
    parents: bool = False
    files_from: str | None = None
    null: bool = False
    shard: str | None = None
    no_clobber: bool = False
    skip_existing: bool = False
    keep_going: bool = False
    workers: int | None = None
    fmt: str | None = None

    @property
    def existing(self) -> str:
        """``--no-clobber`` / ``--skip-existing`` as the library's ``existing`` value."""
        return existing_mode(self.no_clobber, self.skip_existing)

    def sources(self, given: list[str] | None, sample: str | None) -> list[str]:
        """The inputs typed, then those of ``--files-from``, then ``--sample``'s."""
        return batch_inputs(given, self.files_from, self.null, sample)

    def one_input(self, sources: list[str]) -> bool:
        """Whether this call is a single picture (no list, no shard), handled without the batch view;
        --name and --parents name files in a folder, so only the batch view honours them."""
        if self.name is not None or self.parents:
            return False
        return self.files_from is None and self.shard is None and len(sources) <= 1


_BATCH_OPTIONS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=alias, default=getattr(FolderArgs, name))
    for name, alias in [
        ("name", NameTemplate),
        ("parents", Parents),
        ("files_from", FilesFrom),
        ("null", Null),
        ("shard", ShardOption),
        ("no_clobber", NoClobber),
        ("skip_existing", SkipExisting),
        ("keep_going", KeepGoing),
        ("workers", Workers),
    ]
]


def with_batch_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` (which takes ``**batch``) the nine batch options, ``--name`` to
    ``--workers``, after its own: Typer reads a command's options from ``inspect.signature``
    and has no option groups (fastapi/typer#153), so they are declared here once."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.kind != p.VAR_KEYWORD]
    command.__signature__ = inspect.Signature(own + _BATCH_OPTIONS)  # type: ignore[attr-defined]
    return command


def folder_batch(
    command: str, sources: list[str], out_dir: str | None, args: FolderArgs, json_: bool, **options: Any
) -> None:
    """Run a ``gray`` or ``channels`` batch into ``out_dir`` through the batch view (records,
    failures, skipped and not-started inputs, summary) and exit 1 when an input failed."""
    from ..batches.jobs import CHANNEL_OUTPUTS, FolderJob, channels_files, gray_files

    check_dash_out_dir(out_dir, command)
    shard = shard_option(args.shard)
    where = FolderJob(out_dir, args.fmt, args.name, args.parents, shard, args.existing, args.keep_going, args.workers)
    per_input = len(CHANNEL_OUTPUTS) if command == "channels" else 1
    view = BatchView(
        inputs=shard_size(sources, shard),
        outputs_per_input=per_input,
        json_=json_,
        keep_going=args.keep_going,
        label=command,
        plain=(lambda record: echo("".join(p + "\n" for p in record.outputs))) if command == "channels" else None,
    )
    with view.running():
        run = channels_files if command == "channels" else gray_files
        result = run(sources, where, report=view.report, **options)
    if result.failures:
        raise typer.Exit(EXIT_FAILURE)
