"""The ``convcli`` app, its error handling (applied once, to every command) and the rendering helpers
every command uses: JSON lines, tables, PNG bytes on stdout, one ``Error:`` line on stderr.

Library modules are imported inside the commands so that ``convcli --help`` stays fast and never
imports numpy or TensorFlow.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from typing import Any

import click
import typer
from typer.core import TyperCommand, TyperGroup

from ..backend import DEVICES
from ..errors import EXIT_FAILURE, EXIT_INTERRUPTED, ConvcliError, ConvcliWarning, work_error
from ..i18n import tr as _
from .flags import command_flags, name_flags, rewrite_deprecated
from .helpformat import HelpContext, restore_argument_help, translate_help

# --------------------------------------------------------------------------- stdout and stderr


class _Reported:
    """Whether an ``Error:`` line was printed (so a late Ctrl-C is not reported twice)."""

    flag = False


def error_reported() -> bool:
    """True once :func:`stderr_line` has printed something."""
    return _Reported.flag


def in_cli_words(message: str) -> str:
    """A library message with the running command's flags for the parameters it names."""
    return name_flags(message, command_flags(click.get_current_context(silent=True)))


def stderr_line(message: str) -> None:
    """One line on stderr, flushed (errors and notes: never mixed with results on stdout)."""
    _Reported.flag = True
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def warning_line(message: str) -> None:
    """One ``Warning: …`` line on stderr (the work goes on; stdout stays for results)."""
    sys.stderr.write(_("Warning: {message}").format(message=in_cli_words(message)) + "\n")
    sys.stderr.flush()


class _WarningsShown:
    """Shows the library's :class:`~convcli.errors.ConvcliWarning` warnings as ``Warning:``
    lines, each message once per command; other warnings go to Python's usual display."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.fallback = warnings.showwarning

    def __call__(self, message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if not issubclass(category, ConvcliWarning):
            self.fallback(message, category, *args, **kwargs)
        elif str(message) not in self.seen:
            self.seen.add(str(message))
            warning_line(str(message))


def _stdout_error(exc: OSError) -> ConvcliError:
    return work_error(_("standard output: cannot write ({reason})").format(reason=exc.strerror or exc))


def echo(text: str) -> None:
    """Write ``text`` to stdout as it is; a full disk or closed device names stdout in the error."""
    try:
        sys.stdout.write(text)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _stdout_error(exc) from None


def flush_stdout() -> None:
    """Flush stdout now, so a write error is reported like any other (not at interpreter exit)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _stdout_error(exc) from None
    except ValueError:  # stdout already closed
        pass


def print_json(obj: Any) -> None:
    """One JSON document on its own line of stdout."""
    echo(json.dumps(obj) + "\n")


def is_tty() -> bool:
    """Whether stdout is a terminal (rich output) rather than a pipe or file (plain lines)."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def stderr_is_tty() -> bool:
    """Whether stderr is a terminal (progress bars) rather than a pipe or file (plain lines)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def console(stderr: bool = False) -> Any:
    """A rich console for terminal output, on stdout or ``stderr`` (imported on use: rich costs
    start-up time)."""
    from rich.console import Console

    return Console(highlight=False, stderr=stderr)


def table(title: str | None, columns: list[str], rows: list[list[str]]) -> None:
    """A rich table on a terminal, its title and headers in the chosen language; tab-separated
    plain text with the header as written (English, for scripts) when piped."""
    if is_tty():
        from rich.table import Table

        grid = Table(title=_(title) if title else title)  # headers for a person: translated
        for column in columns:
            grid.add_column(_(column))
        for row in rows:
            grid.add_row(*row)
        console().print(grid)
    else:
        echo("\t".join(columns) + "\n")
        for row in rows:
            echo("\t".join(row) + "\n")


def check_png_stdout(output: str | None) -> None:
    """Refuse ``-o -`` (PNG bytes on stdout) when stdout is a terminal: checked before any work."""
    if output == "-" and is_tty():
        raise ConvcliError(_("refusing to write PNG bytes to a terminal: redirect stdout or use -o FILE"))


def write_png_stdout(array: Any, png_level: int = 6) -> None:
    """Send an image to stdout as PNG bytes (``-o -``) at zlib level ``png_level``; refused when
    stdout is a terminal. ``array``: 8- or 16-bit pixels (float values are clipped to 0–255)."""
    from ..imaging.images import encode_image, to_uint8

    check_png_stdout("-")
    pixels = array if array.dtype.name in ("uint8", "uint16") else to_uint8(array, "clip")
    data = encode_image(pixels, "PNG", png_level)
    flush_stdout()
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _stdout_error(exc) from None


def single_source(input_: str | None, sample: str | None) -> str:
    """The one input of a command: a path, ``-`` (stdin) or ``sample:NAME`` from ``--sample``."""
    if sample and input_:
        raise ConvcliError(_("give INPUT or --sample NAME, not both"))
    if sample:
        return f"sample:{sample}"
    if not input_:
        raise ConvcliError(_("no input given: name an image file, '-' for stdin, or --sample NAME"))
    return input_


# --------------------------------------------------------------------------- errors, once


def _traceback_if_verbose() -> None:
    from ..backend import is_verbose

    if is_verbose():
        import traceback

        traceback.print_exc()


def _silence_stdout() -> None:
    """The reader of our stdout went away (e.g. ``| head``): drop what is still buffered."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def error_status(exc: BaseException) -> int | None:
    """Print ``exc`` as one ``Error:`` line and return the exit status it documents.

    None for exceptions that are not errors to report (Click's own usage errors and exits).
    The order matters: the specific kinds (BrokenPipeError, then any OSError) come before the
    catch-all for unexpected exceptions.
    """
    if isinstance(exc, ConvcliError):
        _traceback_if_verbose()
        stderr_line(error_text(in_cli_words(exc.message)))
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        stderr_line(_("Error: interrupted"))
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        _silence_stdout()  # not an error of ours: no message
        return EXIT_FAILURE
    if isinstance(exc, MemoryError):
        stderr_line(error_text(_("out of memory (try a smaller input or batch)")))
        return EXIT_FAILURE
    if isinstance(exc, OSError):
        _traceback_if_verbose()
        where = f"{exc.filename}: " if exc.filename else ""
        stderr_line(error_text(f"{where}{exc.strerror or exc}"))
        return EXIT_FAILURE
    if isinstance(exc, Exception):  # a bug or a library failure: still one line, never a traceback
        _traceback_if_verbose()
        text = str(exc).strip()
        detail = text.splitlines()[0][:300] if text else ""
        text = _("unexpected {kind}: {detail} (--verbose shows the traceback)").format(
            kind=type(exc).__name__, detail=detail
        )
        stderr_line(error_text(text))
        return EXIT_FAILURE
    return None


def error_text(message: str) -> str:
    """``Error: message`` in the chosen language."""
    return _("Error: {message}").format(message=message)


class ConvcliCommand(TyperCommand):
    """A command whose ``--help`` shows its arguments' help once and no stray backslashes."""

    context_class = HelpContext

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        restore_argument_help(self)  # here, not at start-up: only help needs it
        translate_help(self)
        super().format_help(ctx, formatter)

    def format_arguments(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Nothing: Typer lists the arguments in its own section, beside the options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Old spellings of this command's flags (:data:`cli.flags.DEPRECATED`) become the new
        ones, with a warning, before Click parses."""
        return super().parse_args(ctx, rewrite_deprecated(self.name or "", args, warning_line))


class HelpGroup(TyperGroup):
    """A command group whose ``--help`` shows no stray backslashes, and whose mistyped command
    gets one suggestion: Click 8.2+ suggests on its own, so Typer's second one is turned off."""

    context_class = HelpContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if hasattr(click.exceptions, "NoSuchCommand"):  # Click's own "Did you mean …?"
            self.suggest_commands = False

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        translate_help(self, subcommands=True)
        super().format_help(ctx, formatter)


class Typer(typer.Typer):
    """``typer.Typer`` whose commands are :class:`ConvcliCommand` unless told otherwise."""

    def command(self, *args: Any, cls: type[TyperCommand] | None = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or ConvcliCommand, **kwargs)


GLOBAL_OPTIONS = ("--verbose", "-v", "--device", "--version")
"""The top-level group's options: typed after a command, they get a hint to move them."""


def usage_error(exc: click.UsageError) -> int:
    """Show a Click usage error (bad option, missing argument, bad choice) as every other error
    is shown: one ``Error:`` line, then one line pointing at the command's help. Returns 2.
    A command called without the arguments it needs shows its whole help instead (as Click does)."""
    if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
        exc.show()
        return exc.exit_code
    message = exc.format_message()
    name = getattr(exc, "option_name", None)
    if isinstance(exc, click.NoSuchOption) and name in GLOBAL_OPTIONS and exc.ctx and exc.ctx.parent:
        root = exc.ctx.find_root().info_name or "convcli"
        command = exc.ctx.command_path[len(root) :].strip()
        message = _("{option} is a global option: put it before the command ({example})").format(
            option=name, example=f"{root} {name} {command} …"
        )
    stderr_line(error_text(" ".join(message.split())))
    if exc.ctx is not None:
        names = exc.ctx.help_option_names
        option = "--help" if "--help" in names else names[0]
        stderr_line(_("Try '{command} {option}' for help.").format(command=exc.ctx.command_path, option=option))
    return exc.exit_code


class ConvcliGroup(HelpGroup):
    """The top-level group: every command runs inside one error handler (:func:`error_status`),
    and library messages name the flags of the command being run (:func:`name_flags`); usage
    errors are one ``Error:`` line too (:func:`usage_error`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise click.exceptions.Exit(usage_error(exc)) from None

    def invoke(self, ctx: click.Context) -> Any:
        shown = _WarningsShown()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", ConvcliWarning)
                warnings.showwarning = shown

                result = super().invoke(ctx)
            flush_stdout()
            return result
        except click.UsageError as exc:
            raise click.exceptions.Exit(usage_error(exc)) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except BaseException as exc:
            status = error_status(exc)
            if status is None:
                raise
            raise click.exceptions.Exit(status) from None


# --------------------------------------------------------------------------- the app

app = Typer(
    cls=ConvcliGroup,
    name="convcli",
    help=(
        "Images as matrices, convolution kernels through a Keras Conv2D layer, and MNIST "
        "classifiers (softmax, MLP, CNN): the ideas of a CNN lecture as commands.\n\n"
        "Example:\n\n"
        "\b\n"
        "    convcli filter examples/lecture-5x5.txt -k sharpen      # the lecture's 266 -61 -30 ...\n"
        "    convcli gray --sample astronaut -o gray.png\n"
        "    convcli train cnn -o cnn.keras && convcli evaluate cnn.keras\n\n"
        "Exit status: 0 success, 1 failure while working, 2 bad usage or input, 130 Ctrl-C.\n\n"
        "Shell completion (bash, zsh, fish): convcli --install-completion"
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback(invoke_without_command=True)
def main_options(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks and TensorFlow's own log lines."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
    device: str = typer.Option(
        "auto", "--device", click_type=click.Choice(DEVICES), help="auto (a GPU when there is one) or cpu (no GPU)."
    ),
    no_daemon: bool = typer.Option(
        False, "--no-daemon", help="Run in this process even when a daemon runs (also CONVCLI_DAEMON=off)."
    ),
) -> None:
    """Global options."""
    from ..backend import select_device, set_verbose

    set_verbose(verbose)
    select_device(device)
    if verbose:
        os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
    if version:
        from importlib.metadata import version as pkg_version

        echo(f"convcli {pkg_version('convcli')}\n")
        raise typer.Exit(0)
